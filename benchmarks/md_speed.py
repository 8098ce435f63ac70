"""MD steps per second of the shipped Cu-BTA models on the 46-atom BTA/Cu(111) slab (Langevin, 0.5 fs).

    python benchmarks/md_speed.py [--steps 200] [--baseline REVISION]

The same structure and integrator for every model; the short-range model bta_cu_sr.pt is the
baseline of the ratio column, measured in the same run (the cost of seeing past the cutoff).

``--baseline REVISION`` (a git revision of this repository, e.g. the commit an issue was filed
against) adds a second table: each model with this code and with that revision's code and model
files, checked out in a temporary worktree, one fresh process each, the same plain ASE Langevin
loop for both (best of two runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from _common import baseline_checkout, beside_baseline, ensure_allocator

import lrcalc
from lrcalc import md
from lrcalc.structures import bta_on_cu111

MODELS = ["bta_cu_sr.pt", "bta_cu.pt", "bta_cu_qeq3.pt", "bta_cu_lorem.pt"]


def steps_per_second(model, steps: int) -> float:
    atoms = bta_on_cu111()
    atoms.calc = lrcalc.LRCalculator(model)
    md.run(atoms, "langevin", 300, 0.5, 10, trajectory=os.devnull, logfile=None, progress=False)  # warm-up
    start = time.perf_counter()
    md.run(atoms, "langevin", 300, 0.5, steps, trajectory=os.devnull, logfile=None, interval=steps,
           progress=False)
    return steps / (time.perf_counter() - start)


#: one model's MD steps/s with whatever lrcalc is first on the path (works with older revisions too)
PLAIN_LANGEVIN = """
import sys, time, numpy as np
import lrcalc
from ase import units
from ase.md.langevin import Langevin
from lrcalc.structures import bta_on_cu111
name, steps, best = sys.argv[1], int(sys.argv[2]), 0.0
for _ in range(2):
    atoms = bta_on_cu111()
    atoms.calc = lrcalc.LRCalculator(name)
    dynamics = Langevin(atoms, 0.5 * units.fs, temperature_K=300, friction=0.01 / units.fs,
                        rng=np.random.default_rng(1))
    dynamics.run(10)
    start = time.perf_counter()
    dynamics.run(steps)
    best = max(best, steps / (time.perf_counter() - start))
print(best)
print(lrcalc.__file__)
"""


def compare_with_baseline(revision: str, steps: int):
    checkout = baseline_checkout(revision)
    print(f"# this code against {revision} (its code and model files), plain ASE Langevin, best of two")
    print(f"{'model':>16} {'this code':>10} {revision[:12]:>12} {'speed-up':>9}")
    for name in MODELS[:2]:
        now, then, imports = beside_baseline(PLAIN_LANGEVIN, [name, str(steps)], [name, str(steps)], checkout)
        print(f"{name:>16} {now:>10.1f} {then:>12.1f} {now / then:>8.2f}×", flush=True)
    print(imports)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--baseline", default=None, help="a git revision to compare with (second table)")
    args = parser.parse_args()
    allocator = ensure_allocator(True)
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, {allocator}")
    print(f"# {len(bta_on_cu111())}-atom BTA on Cu(111), {args.steps} Langevin steps of 0.5 fs after 10 warm-up steps")
    print(f"{'model':>16} {'steps/s':>9} {'ms/step':>9} {'cost vs SR':>11}")
    baseline = None
    for name in MODELS:
        rate = max(steps_per_second(lrcalc.load_model(name), args.steps) for _ in range(2))
        baseline = baseline or rate
        print(f"{name:>16} {rate:>9.1f} {1e3 / rate:>9.2f} {baseline / rate:>11.2f}", flush=True)
    if args.baseline:
        compare_with_baseline(args.baseline, args.steps)


if __name__ == "__main__":
    main()
