"""The short-range model is E(3)-invariant (energy) / equivariant (forces) and permutation invariant."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lrcalc import LRCalculator


def energy_forces(model, atoms):
    atoms = atoms.copy()
    atoms.calc = LRCalculator(model)
    return atoms.get_potential_energy(), atoms.get_forces(), atoms.get_potential_energies()


def orthogonal_transforms():
    rotation = Rotation.from_euler("zyx", [0.7, -1.1, 2.3]).as_matrix()
    reflection = np.diag([1.0, 1.0, -1.0]) @ Rotation.from_euler("xyz", [0.3, 0.2, -0.9]).as_matrix()
    return {"rotation": rotation, "rotoreflection": reflection}


@pytest.mark.parametrize("name", ["rotation", "rotoreflection"])
def test_energy_invariant_forces_equivariant_under_rotations_and_reflections(small_model, structure, name):
    matrix = orthogonal_transforms()[name]
    assert np.isclose(abs(np.linalg.det(matrix)), 1.0)
    e0, f0, ei0 = energy_forces(small_model, structure)
    moved = structure.copy()
    moved.positions = structure.positions @ matrix.T
    moved.cell = structure.cell[:] @ matrix.T
    e1, f1, ei1 = energy_forces(small_model, moved)
    assert abs(e0) > 1e-3  # a generic, non-trivial energy
    assert abs(e1 - e0) <= 1e-10 * abs(e0)
    np.testing.assert_allclose(ei1, ei0, rtol=0, atol=1e-10 * np.abs(ei0).max())
    scale = np.abs(f0).max()
    assert scale > 1e-3
    np.testing.assert_allclose(f1, f0 @ matrix.T, rtol=0, atol=1e-10 * scale)


def test_translation_invariance(small_model, structure):
    e0, f0, _ = energy_forces(small_model, structure)
    moved = structure.copy()
    moved.positions += np.array([1.37, -2.21, 0.53])
    e1, f1, _ = energy_forces(small_model, moved)
    assert abs(e1 - e0) <= 1e-10 * abs(e0)
    np.testing.assert_allclose(f1, f0, rtol=0, atol=1e-10 * np.abs(f0).max())


def test_permutation_invariance(small_model, structure):
    e0, f0, ei0 = energy_forces(small_model, structure)
    order = np.random.default_rng(0).permutation(len(structure))
    permuted = structure[order]
    e1, f1, ei1 = energy_forces(small_model, permuted)
    assert abs(e1 - e0) <= 1e-10 * abs(e0)
    np.testing.assert_allclose(f1, f0[order], rtol=0, atol=1e-10 * np.abs(f0).max())
    np.testing.assert_allclose(ei1, ei0[order], rtol=0, atol=1e-10 * np.abs(ei0).max())


def test_net_force_vanishes(small_model, structure):
    _, forces, _ = energy_forces(small_model, structure)
    np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-10 * np.abs(forces).max() * len(structure))
