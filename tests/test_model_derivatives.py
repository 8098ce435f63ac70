"""Forces and stress equal finite differences of the energy; supercells are extensive."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from lrcalc import LRCalculator

from finite_differences import numerical_forces, numerical_stress
from structures import make_triclinic_crystal, make_slab


def test_forces_equal_central_finite_differences(small_model, structure):
    atoms = structure.copy()
    atoms.calc = LRCalculator(small_model)
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 1e-3  # three orders above the tolerance
    np.testing.assert_allclose(forces, numerical_forces(small_model, atoms), rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", [make_triclinic_crystal, make_slab], ids=["triclinic", "slab"])
def test_stress_equals_finite_difference_strain_derivative(small_model, make):
    atoms = make()
    atoms.calc = LRCalculator(small_model)
    stress = atoms.get_stress(voigt=False)
    numerical = numerical_stress(small_model, atoms)
    assert np.abs(stress).max() > 1e-4
    np.testing.assert_allclose(stress, numerical, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stress, stress.T, atol=1e-12)


def test_stress_voigt_order_matches_ase(small_model):
    atoms = make_triclinic_crystal()
    atoms.calc = LRCalculator(small_model)
    full = atoms.get_stress(voigt=False)
    voigt = atoms.get_stress()
    expected = [full[0, 0], full[1, 1], full[2, 2], full[1, 2], full[0, 2], full[0, 1]]
    np.testing.assert_allclose(voigt, expected, rtol=0, atol=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: bulk("Cu", "fcc", a=3.61, cubic=True),  # 3.61 Å cube: smaller than the 4 Å cutoff
        make_triclinic_crystal,  # every cell length below the cutoff
    ],
    ids=["cubic-Cu", "triclinic-CuN"],
)
def test_supercell_is_extensive(small_model, make):
    atoms = make()
    atoms.rattle(0.05, seed=11)
    atoms.calc = LRCalculator(small_model)
    e, f = atoms.get_potential_energy(), atoms.get_forces()
    supercell = atoms.repeat((2, 2, 2))
    supercell.calc = LRCalculator(small_model)
    e8, f8 = supercell.get_potential_energy(), supercell.get_forces()
    assert abs(e8 - 8 * e) <= 1e-9 * abs(8 * e)
    np.testing.assert_allclose(f8, np.tile(f, (8, 1)), rtol=0, atol=1e-9 * np.abs(f).max())
    np.testing.assert_allclose(supercell.get_stress(), atoms.get_stress(), rtol=0, atol=1e-9 * np.abs(atoms.get_stress()).max())
