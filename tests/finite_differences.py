"""Central finite differences of a model's energy: the independent reference for forces and stress."""

from __future__ import annotations

import numpy as np

from lrcalc import LRCalculator


def energy(model, atoms, calc: LRCalculator | None = None) -> float:
    atoms = atoms.copy()
    atoms.calc = LRCalculator(model) if calc is None else calc
    return atoms.get_potential_energy()


def numerical_forces(model, atoms, h: float = 1e-4) -> np.ndarray:
    """F_i = −[E(r_i + h) − E(r_i − h)] / 2h, eV/Å.

    One calculator serves all displaced copies, as in MD: a long-range model then keeps the
    Coulomb parameters tuned at the first call (they may depend on the positions, e.g. a slab's
    Ewald split on its thickness), so the differences are those of one smooth energy function."""
    calc = LRCalculator(model)
    forces = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, x] += h
            minus.positions[i, x] -= h
            forces[i, x] = -(energy(model, plus, calc) - energy(model, minus, calc)) / (2 * h)
    return forces


def strained(atoms, strain):
    deformed = atoms.copy()
    deformed.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
    return deformed


def numerical_stress(model, atoms, h: float = 1e-5) -> np.ndarray:
    """σ_ab = [E(+ε_ab) − E(−ε_ab)] / (2 h V) with a symmetric strain ε, eV/Å³ (ASE's sign)."""
    stress = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            strain = np.zeros((3, 3))
            strain[a, b] = strain[b, a] = h / (1 if a == b else 2)
            stress[a, b] = (energy(model, strained(atoms, strain)) - energy(model, strained(atoms, -strain))) / (
                2 * h * atoms.cell.volume
            )
    return stress
