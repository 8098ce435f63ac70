"""Does ``torch.compile`` pay for lrcalc's network? Eager against compiled, side by side.

    python benchmarks/torch_compile.py [--models bta_cu_sr.pt,bta_cu.pt] [--threads 1,2]

What is compiled: the parts of a model that are pure network and the same at every call up to the
numbers of atoms and edges (dynamic shapes): the local block, the interaction layers of later stages
(the feedback layers after the charge equilibration) and the energy head. The charge equilibration
and Coulomb sums stay eager (data-dependent solver choices and iterations). Each row: energy, forces
and stress of the shipped model after small random moves (σ = 1e-3 Å), median of the steps after
the first (which compiles), on the 46-atom BTA/Cu(111) slab and the same cell repeated 7×7
(2254 atoms); every row in a fresh process. The ratio column is eager/compiled time (> 1: compiling
pays). Inductor caches compiled kernels on disk, so "first call" is shorter when rerun.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from _common import ensure_allocator
from systems import cu_bta_interface

import lrcalc


def compiled_copy(model):
    """A copy of ``model`` with its network parts compiled (module docstring)."""
    from lrcalc.nn.energy_head import EnergyHead
    from lrcalc.nn.local import InteractionStack, LocalBlock

    model = copy.deepcopy(model)
    inside_local = {id(m) for m in model.local.modules()}
    for module in model.modules():
        if isinstance(module, (LocalBlock, EnergyHead)):
            module.forward = torch.compile(module.forward, dynamic=True)
        elif isinstance(module, InteractionStack) and id(module) not in inside_local:
            module.run = torch.compile(module.run, dynamic=True)
    return model


def step_times(model_name: str, repeat: int, compiled: bool, steps: int) -> tuple[float, float, float]:
    """(first call s, median s/step, max |ΔF| against eager in eV/Å at the last geometry)."""
    small, _ = cu_bta_interface()
    atoms = small.repeat((repeat, repeat, 1))
    calc = lrcalc.LRCalculator(model_name)
    if compiled:  # the calculator's own (frozen, eval-mode) model, compiled
        calc.models[0] = compiled_copy(calc.models[0])
        calc.model = calc.models[0]
    rng = np.random.default_rng(0)
    properties = ["energy", "forces", "stress"]
    t0 = time.perf_counter()
    calc.calculate(atoms, properties, ["positions"])
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        t0 = time.perf_counter()
        calc.calculate(atoms, properties, ["positions"])
        times.append(time.perf_counter() - t0)
    reference = lrcalc.LRCalculator(model_name)
    reference.calculate(atoms, properties, ["positions"])
    deviation = float(np.abs(calc.results["forces"] - reference.results["forces"]).max())
    return first, statistics.median(times), deviation


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="bta_cu_sr.pt,bta_cu.pt")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--row", default=None, help=argparse.SUPPRESS)  # model,repeat,threads,compiled
    args = parser.parse_args()
    allocator = ensure_allocator()
    if args.row is not None:
        name, repeat, threads, compiled = args.row.split(",")
        torch.set_num_threads(int(threads))
        repeat = int(repeat)
        first, per_step, deviation = step_times(name, repeat, compiled == "1", 40 if repeat == 1 else 6)
        print(f"{first:.3f} {per_step:.5f} {deviation:.2e}")
        return
    print(f"# {allocator}; torch {torch.__version__}; every row in a fresh process")
    print(f"{'model':>14} {'atoms':>6} {'threads':>7} {'eager s/step':>13} {'compiled s/step':>16} "
          f"{'eager/compiled':>15} {'first call (s)':>15} {'max |ΔF| (eV/Å)':>17}")
    rows = [(name, repeat, threads) for name in args.models.split(",") for repeat in (1, 7)
            for threads in map(int, args.threads.split(","))]
    for name, repeat, threads in rows:
        results = []
        for compiled in (0, 1):
            line = subprocess.run([sys.executable, __file__, "--row", f"{name},{repeat},{threads},{compiled}"],
                                  check=True, capture_output=True, text=True).stdout.split()
            results.append([float(v) for v in line])
        (_, eager, _), (first, fast, deviation) = results
        atoms = 46 * repeat * repeat
        print(f"{name:>14} {atoms:>6} {threads:>7} {eager:>13.4f} {fast:>16.4f} {eager / fast:>15.2f} "
              f"{first:>15.1f} {deviation:>17.1e}", flush=True)


if __name__ == "__main__":
    main()
