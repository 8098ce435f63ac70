"""Conjugate-gradient iterations of the charge solve and of its adjoint (backward) solve per MD step:
bta_cu.pt in Langevin MD (300 K, 1 fs) on the 2254-atom BTA/Cu(111) slab, with what the calculator
carries between steps (``QeqWarmStart``) and with only the last step's solutions as starting points.

    python benchmarks/qeq_iterations.py [--steps 20]

The counts are the ``stats`` that a ``QeqWarmStart`` keeps of the solves it takes part in.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import ensure_allocator
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta
from systems import cu_bta_interface

import lrcalc
from lrcalc.electrostatics import QeqWarmStart


def iterations_per_step(steps: int, warm_start: QeqWarmStart) -> list[tuple[int, int]]:
    """(charge, adjoint) iterations of each force evaluation of a Langevin run with ``warm_start``
    (the MD protocol of speed_lr.py: same start, seeds and settings)."""
    small, _ = cu_bta_interface()
    atoms = small.repeat((7, 7, 1))
    atoms.calc = lrcalc.LRCalculator("bta_cu.pt")
    atoms.calc.reset_run_state(qeq_warm_start=warm_start)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = Langevin(atoms, 1.0 * units.fs, temperature_K=300, friction=0.01 / units.fs,
                        rng=np.random.default_rng(1), fixcm=False)
    dynamics.run(steps)  # one evaluation before the first step, then one per step
    stats = atoms.calc.qeq_warm_start.stats
    return list(zip(stats.charge_iterations, stats.adjoint_iterations))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    allocator = ensure_allocator()
    print(f"# {allocator}; bta_cu.pt, 2254-atom slab, Langevin 300 K, 1 fs; coulomb_accuracy 1e-4")
    print("# (charge solve, adjoint solve) iterations per force evaluation, first evaluation first")
    runs = (
        ("last solution only", QeqWarmStart(extrapolate=False, recycle=False)),
        ("QeqWarmStart (extrapolation + coarse space)", QeqWarmStart()),
    )
    for label, warm_start in runs:
        counts = iterations_per_step(args.steps, warm_start)
        last = counts[len(counts) // 2:]
        mean = (sum(c for c, _ in last) / len(last), sum(a for _, a in last) / len(last))
        print(f"{label:>45}: {' '.join(f'{c}/{a}' for c, a in counts)}")
        print(f"{'':>45}  mean over the second half: {mean[0]:.1f} / {mean[1]:.1f}", flush=True)


if __name__ == "__main__":
    main()
