"""How fast a model runs, as the model cards and the size study report it (steps or calls per second
on this machine); one module so that both measure the same way."""

from __future__ import annotations

import os
import time

import numpy as np


def evaluation_speed(model, calls: int, atoms) -> float:
    """Energy + forces evaluations per second, each after a small random displacement."""
    from lrcalc import LRCalculator

    calc = LRCalculator(model)
    rng = np.random.default_rng(0)
    atoms = atoms.copy()
    for _ in range(3):  # warm-up
        calc.calculate(atoms, ["energy", "forces"], ["positions"])
    start = time.perf_counter()
    for _ in range(calls):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        calc.calculate(atoms, ["energy", "forces"], ["positions"])
    return calls / (time.perf_counter() - start)


def md_speed(model, steps: int, atoms) -> float:
    from lrcalc import LRCalculator, md

    atoms.calc = LRCalculator(model)
    md.run(atoms, "langevin", 300, 0.5, 5, trajectory=os.devnull, logfile=None, progress=False)  # warm-up
    start = time.perf_counter()
    md.run(atoms, "langevin", 300, 0.5, steps, trajectory=os.devnull, logfile=None, interval=steps,
           progress=False)
    return steps / (time.perf_counter() - start)
