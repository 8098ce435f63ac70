"""What the Qeq accuracy setting costs in accuracy: bta_cu.pt on BTA/Cu(111) slabs of three sizes at
``qeq_accuracy`` 1e-4 (the default; charge solve iterated in float32 for large slabs), 1e-5 and 1e-6,
against 1e-8, with the wall time of one evaluation (energy, forces, stress, charges).

    python benchmarks/qeq_accuracy.py [--repeats 1 4 7]

Slabs: frame 0 of ../shared/data/cu_bta (46 atoms, dense charge solve) repeated in-plane (4×4: 736
atoms, 7×7: 2254 atoms, iterative solve). The model runs in float32 as shipped; the Coulomb sums and
the dense solve run in float64, the conjugate-gradient iterations in float32 at tolerances above
1e-5. The model's own test force error is 28 meV/Å (models/README.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import ensure_allocator
from systems import cu_bta_interface as interface

import lrcalc


def evaluate(atoms, accuracy):
    model = lrcalc.load_model("bta_cu.pt")
    atoms = atoms.copy()
    atoms.calc = lrcalc.LRCalculator(model, qeq_accuracy=accuracy)
    start = time.perf_counter()
    forces = atoms.get_forces()
    seconds = time.perf_counter() - start
    return atoms.get_potential_energy(), forces, atoms.get_charges(), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 4, 7])
    args = parser.parse_args()
    allocator = ensure_allocator()
    small, source = interface()
    print(f"# {allocator}; bta_cu.pt (float32 model); {source} repeated in-plane; reference qeq_accuracy 1e-8")
    print(f"{'atoms':>6} {'qeq_accuracy':>13} {'|ΔE| meV/atom':>14} {'max|ΔF| meV/Å':>15} {'RMS ΔF meV/Å':>13} "
          f"{'max|Δq| e':>10} {'s/eval':>8}")
    for repeat in args.repeats:
        atoms = small.repeat((repeat, repeat, 1))
        e0, f0, q0, _ = evaluate(atoms, 1e-8)
        for accuracy in (1e-6, 1e-5, 1e-4):
            evaluate(atoms, accuracy)  # warm-up
            e, f, q, seconds = evaluate(atoms, accuracy)
            print(f"{len(atoms):>6} {accuracy:>13g} {abs(e - e0) * 1e3 / len(atoms):>14.2e} "
                  f"{np.abs(f - f0).max() * 1e3:>15.4f} {np.sqrt(((f - f0) ** 2).mean()) * 1e3:>13.4f} "
                  f"{np.abs(q - q0).max():>10.1e} {seconds:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
