"""MD steps per second of the shipped Cu-BTA models on the 46-atom BTA/Cu(111) slab (Langevin, 0.5 fs).

    python benchmarks/md_speed.py [--steps 200]

The same structure and integrator for every model; the short-range model bta_cu_sr.pt is the
baseline of the ratio column, measured in the same run (the cost of seeing past the cutoff).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from _common import ensure_allocator

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
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


if __name__ == "__main__":
    main()
