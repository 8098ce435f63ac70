"""Conjugate-gradient iterations of the charge solve and of its adjoint (backward) solve per MD step:
bta_cu.pt in Langevin MD (300 K, 1 fs) on the 2254-atom BTA/Cu(111) slab, with what the calculator
carries between steps (``QeqWarmStart``) and with only the last step's solutions as starting points.

    python benchmarks/qeq_iterations.py [--steps 20]

The counts come from wrapping the solver's ``solve`` method (a diagnostic; results are unchanged).
"""

from __future__ import annotations

import argparse
import importlib

from _common import ensure_allocator
from speed_lr import interface, md_trajectory_step

import lrcalc

qeq_module = importlib.import_module("lrcalc.electrostatics.qeq")


def iterations_per_step(steps: int, recycle: bool) -> list[tuple[int, int]]:
    counts = []
    solve = qeq_module._HardnessOperator.solve

    def counting_solve(self, *args, **kwargs):
        result = solve(self, *args, **kwargs)
        counts.append(result[1])
        return result

    qeq_module._HardnessOperator.solve = counting_solve
    space, predict = qeq_module.QeqWarmStart.space, qeq_module.QeqWarmStart.predict
    if not recycle:  # no coarse space, the last solution as the starting point
        qeq_module.QeqWarmStart.space = lambda self, n: None
        qeq_module.QeqWarmStart.predict = lambda self, key, positions, steps=None: predict(
            self, key, positions, (self.steps if steps is None else steps)[-1:])
    try:
        small, _ = interface()
        step = md_trajectory_step(lrcalc.load_model("bta_cu.pt"), small.repeat((7, 7, 1)))
        for _ in range(steps):
            step()
    finally:
        qeq_module._HardnessOperator.solve = solve
        qeq_module.QeqWarmStart.space, qeq_module.QeqWarmStart.predict = space, predict
    # ASE's Langevin evaluates once before its first step; then one charge and one adjoint solve per step
    return list(zip(counts[0::2], counts[1::2]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    allocator = ensure_allocator()
    print(f"# {allocator}; bta_cu.pt, 2254-atom slab, Langevin 300 K, 1 fs; qeq_accuracy 1e-4")
    print("# (charge solve, adjoint solve) iterations per force evaluation, first evaluation first")
    for recycle, label in ((False, "last solution only"), (True, "QeqWarmStart (extrapolation + coarse space)")):
        counts = iterations_per_step(args.steps, recycle)
        last = counts[len(counts) // 2:]
        mean = (sum(c for c, _ in last) / len(last), sum(a for _, a in last) / len(last))
        print(f"{label:>45}: {' '.join(f'{c}/{a}' for c, a in counts)}")
        print(f"{'':>45}  mean over the second half: {mean[0]:.1f} / {mean[1]:.1f}", flush=True)


if __name__ == "__main__":
    main()
