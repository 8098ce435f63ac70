"""Structures used across the tests (molecule, triclinic crystal, slab, bulk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc111, molecule

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def make_molecule() -> Atoms:
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=3)
    return atoms


def make_triclinic_crystal() -> Atoms:
    """A two-atom CuN triclinic cell, smaller than the cutoff along every axis."""
    cell = np.array([[3.1, 0.0, 0.0], [0.9, 3.3, 0.0], [0.6, 0.7, 3.6]])
    atoms = Atoms("CuN", scaled_positions=[[0.0, 0.0, 0.0], [0.45, 0.55, 0.5]], cell=cell, pbc=True)
    atoms.rattle(0.05, seed=4)
    return atoms


def make_slab() -> Atoms:
    """Cu(111) 2×2, three layers, with vacuum along z and a CO molecule above it."""
    slab = fcc111("Cu", size=(2, 2, 3), vacuum=7.0)
    top = slab.positions[:, 2].max()
    slab += Atoms("CO", positions=[[1.3, 0.7, top + 1.9], [1.3, 0.7, top + 3.05]])
    slab.pbc = (True, True, False)
    slab.rattle(0.05, seed=5)
    return slab


def make_bulk_cu() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms.rattle(0.05, seed=6)
    return atoms
