"""A uniform external electric field: energies, forces, the dipole −∂E/∂E_field and Born effective
charges ∂F/∂E_field, each against central finite differences; sum rules; the refused geometries;
and committees of models."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

import lrcalc
from lrcalc import LRCalculator

from model_fixtures import randomise_output_layers

SMALL = {"species": ["H", "C", "N", "O"], "cutoff": 4.0, "num_layers": 1, "l_max": 1, "num_features": 8,
         "dtype": "float64", "avg_num_neighbors": 6.0, "seed": 3}
CONFIGS = {
    "qeq": {**SMALL, "long_range": "qeq", "num_layers_feedback": 1},
    "lorem": {**SMALL, "long_range": "lorem", "lorem_coulomb": True, "lorem_l_max": 1, "lorem_channels": 2},
}
FIELD = np.array([0.04, -0.03, 0.05])  # V/Å


def formamide(charge: float = 0.0) -> Atoms:
    atoms = Atoms("OCNHHH", positions=[[0.0, 1.21, 0.0], [0.0, 0.0, 0.0], [1.16, -0.68, 0.0],
                                       [-0.95, -0.55, 0.05], [2.05, -0.20, 0.1], [1.15, -1.69, -0.1]])
    atoms.info["charge"] = charge
    return atoms


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return randomise_output_layers(lrcalc.build_model(CONFIGS[request.param]), seed=1)


def _energy(calc, atoms, field):
    calc.set(electric_field=field)
    return calc.get_potential_energy(atoms)


def test_dipole_is_minus_the_field_derivative_of_the_energy(model):
    atoms = formamide()
    calc = LRCalculator(model, electric_field=FIELD)
    dipole = calc.get_property("dipole", atoms)
    h = 1e-4
    numerical = np.array([-(_energy(calc, atoms, FIELD + h * e) - _energy(calc, atoms, FIELD - h * e)) / (2 * h)
                          for e in np.eye(3)])
    np.testing.assert_allclose(dipole, numerical, atol=1e-7)
    # the charges' dipole Σ q r is a different quantity once charges feed back into the energy
    calc.set(electric_field=FIELD)
    np.testing.assert_allclose(calc.get_property("charges_dipole", atoms), calc.results["charges"] @ atoms.positions)


def test_forces_in_a_field_are_exact(model):
    atoms = formamide(charge=1.0)
    calc = LRCalculator(model, electric_field=FIELD)
    forces = calc.get_forces(atoms)
    h = 1e-5
    numerical = np.zeros_like(forces)
    for i in range(len(atoms)):
        for x in range(3):
            moved = atoms.copy()
            moved.positions[i, x] += h
            plus = calc.get_potential_energy(moved)
            moved.positions[i, x] -= 2 * h
            numerical[i, x] = -(plus - calc.get_potential_energy(moved)) / (2 * h)
    np.testing.assert_allclose(forces, numerical, atol=1e-7)
    # a charged molecule in a uniform field is pulled by Q·E as a whole
    np.testing.assert_allclose(forces.sum(axis=0), 1.0 * FIELD, atol=1e-9)


def test_born_charges_are_the_field_derivative_of_the_forces(model):
    atoms = formamide()
    calc = LRCalculator(model, electric_field=FIELD)
    born = calc.get_property("born_effective_charges", atoms)
    assert born.shape == (len(atoms), 3, 3)
    h = 1e-4
    numerical = np.zeros_like(born)
    for alpha in range(3):
        step = h * np.eye(3)[alpha]
        calc.set(electric_field=FIELD + step)
        plus = calc.get_forces(atoms)
        calc.set(electric_field=FIELD - step)
        numerical[:, alpha, :] = (plus - calc.get_forces(atoms)) / (2 * h)
    np.testing.assert_allclose(born, numerical, atol=1e-6)
    # acoustic sum rule of a neutral molecule
    np.testing.assert_allclose(born.sum(axis=0), np.zeros((3, 3)), atol=1e-9)


def test_born_charges_of_a_charged_molecule_sum_to_its_charge(model):
    atoms = formamide(charge=-1.0)
    calc = LRCalculator(model)
    born = calc.get_property("born_effective_charges", atoms)
    np.testing.assert_allclose(born.sum(axis=0), -1.0 * np.eye(3), atol=1e-9)


def test_a_field_changes_the_charges_and_zero_field_changes_nothing(model):
    atoms = formamide()
    calc = LRCalculator(model)
    energy, charges = calc.get_potential_energy(atoms), calc.get_charges(atoms)
    calc.set(electric_field=(0.0, 0.0, 0.0))
    assert calc.get_potential_energy(atoms) == energy
    calc.set(electric_field=(0.2, 0.0, 0.0))
    assert np.abs(calc.get_charges(atoms) - charges).max() > 1e-6
    assert abs(calc.get_charges(atoms).sum()) < 1e-10


def test_slab_takes_a_field_along_its_normal_only(model):
    atoms = formamide()
    atoms.cell = [8.0, 8.0, 20.0]
    atoms.pbc = (True, True, False)
    atoms.center(axis=2)
    calc = LRCalculator(model, electric_field=(0.0, 0.0, 0.1))
    energy = calc.get_potential_energy(atoms)
    h = 1e-4
    numerical = -(_energy(calc, atoms, (0, 0, 0.1 + h)) - _energy(calc, atoms, (0, 0, 0.1 - h))) / (2 * h)
    calc.set(electric_field=(0.0, 0.0, 0.1))
    assert calc.get_property("normal_dipole", atoms) == pytest.approx(numerical, abs=1e-7)
    born = calc.get_property("born_effective_charges", atoms)
    assert np.isfinite(energy)
    np.testing.assert_allclose(born.sum(axis=0), np.zeros((3, 3)), atol=1e-8)
    calc.set(electric_field=(0.1, 0.0, 0.0))
    with pytest.raises(ValueError, match="periodic cell vector 0"):
        calc.get_potential_energy(atoms)
    bulk = atoms.copy()
    bulk.pbc = True
    calc.set(electric_field=(0.0, 0.0, 0.1))
    with pytest.raises(ValueError, match="periodic cell vector 2"):
        calc.get_potential_energy(bulk)


def test_field_needs_a_long_range_model_and_three_numbers():
    short = lrcalc.build_model({**SMALL, "long_range": "none"})
    with pytest.raises(ValueError, match="short-ranged"):
        LRCalculator(short, electric_field=(0, 0, 0.1))
    qeq = lrcalc.build_model(CONFIGS["qeq"])
    for bad in [(0, 0), "z", (0, np.nan, 0)]:
        with pytest.raises(ValueError, match="three"):
            LRCalculator(qeq, electric_field=bad)


# ------------------------------------------------------------------------------------------ committee


def test_committee_returns_the_mean_and_the_spread():
    members = [randomise_output_layers(lrcalc.build_model({**CONFIGS["qeq"], "seed": s}), seed=s) for s in (1, 2, 3)]
    atoms = formamide()
    singles = []
    for member in members:
        calc = LRCalculator(member)
        singles.append((calc.get_potential_energy(atoms), calc.get_forces(atoms), calc.get_charges(atoms)))
    committee = LRCalculator(members)
    energy = committee.get_potential_energy(atoms)
    energies = np.array([s[0] for s in singles])
    forces = np.array([s[1] for s in singles])
    assert energy == pytest.approx(energies.mean(), abs=1e-10)
    np.testing.assert_allclose(committee.get_forces(atoms), forces.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(committee.get_charges(atoms), np.mean([s[2] for s in singles], axis=0), atol=1e-10)
    np.testing.assert_allclose(committee.results["committee_energies"], energies, atol=1e-10)
    assert committee.get_property("energy_spread", atoms) == pytest.approx(energies.std(), abs=1e-10)
    spread = committee.get_property("forces_spread", atoms)
    np.testing.assert_allclose(spread, np.sqrt(((forces - forces.mean(0)) ** 2).mean(0).sum(-1)), atol=1e-10)
    assert spread.shape == (len(atoms),) and spread.max() > 0
    # one model twice: no spread
    twice = LRCalculator([members[0], members[0]])
    assert twice.get_property("energy_spread", atoms) == 0
    assert np.all(twice.get_property("forces_spread", atoms) == 0)


def test_committee_rejects_members_of_other_species():
    qeq = lrcalc.build_model(CONFIGS["qeq"])
    other = lrcalc.build_model({**CONFIGS["qeq"], "species": ["H", "C", "N", "Cu"]})
    with pytest.raises(ValueError, match="same species"):
        LRCalculator([qeq, other])
    with pytest.raises(ValueError, match="empty"):
        LRCalculator([])


# ------------------------------------------------------------------------------------------ electrodes


def plates(gap: float = 6.0) -> Atoms:
    """Two 3×3 square Cu plates (2.55 Å spacing) facing each other across ``gap`` Å, as a molecule;
    electrode 0 below, 1 above."""
    grid = np.array([[x, y] for x in range(3) for y in range(3)], dtype=float) * 2.55
    lower = np.column_stack([grid, np.zeros(9)])
    upper = np.column_stack([grid, np.full(9, gap)])
    atoms = Atoms("Cu18", positions=np.vstack([lower, upper]))
    atoms.rattle(0.02, seed=4)
    atoms.arrays["electrode"] = np.array([0] * 9 + [1] * 9)
    return atoms


@pytest.fixture(scope="module")
def metal_qeq():
    config = {**CONFIGS["qeq"], "species": ["H", "C", "N", "Cu"]}
    return randomise_output_layers(lrcalc.build_model(config), seed=2)


def test_electrodes_charge_linearly_with_the_potential_difference(metal_qeq):
    atoms = plates()
    calc = LRCalculator(metal_qeq)
    q0 = calc.get_charges(atoms).copy()
    charges = {}
    for dv in (1.0, 2.0):
        calc.set(electrode_potentials=(-dv / 2, dv / 2))
        charges[dv] = calc.get_charges(atoms).copy()
    np.testing.assert_allclose(charges[2.0] - q0, 2 * (charges[1.0] - q0), atol=1e-9)
    upper = atoms.arrays["electrode"] == 1
    induced = (charges[1.0] - q0)[upper].sum()
    assert induced > 1e-3  # the electrode at the higher potential takes positive charge
    assert abs(charges[1.0].sum()) < 1e-10
    # only differences of potentials matter
    calc.set(electrode_potentials=(-0.5 + 3.0, 0.5 + 3.0))
    np.testing.assert_allclose(calc.get_charges(atoms), charges[1.0], atol=1e-9)


def test_forces_at_constant_potential_are_minus_the_gradient_of_the_grand_potential(metal_qeq):
    atoms = plates()
    calc = LRCalculator(metal_qeq, electrode_potentials=(-0.7, 0.7))
    forces = calc.get_forces(atoms)
    h = 1e-5
    for i, x in [(0, 2), (4, 0), (13, 2), (17, 1)]:
        moved = atoms.copy()
        moved.positions[i, x] += h
        plus = calc.get_potential_energy(moved)
        moved.positions[i, x] -= 2 * h
        assert forces[i, x] == pytest.approx(-(plus - calc.get_potential_energy(moved)) / (2 * h), abs=1e-7)


def test_electrode_input_errors(metal_qeq):
    atoms = plates()
    del atoms.arrays["electrode"]
    calc = LRCalculator(metal_qeq, electrode_potentials=(0.0, 1.0))
    with pytest.raises(ValueError, match="atoms.arrays\\['electrode'\\]"):
        calc.get_potential_energy(atoms)
    atoms.arrays["electrode"] = np.array([0] * 9 + [2] * 9)
    with pytest.raises(ValueError, match="from −1"):
        calc.get_potential_energy(atoms)
    lorem = lrcalc.build_model(CONFIGS["lorem"])
    with pytest.raises(ValueError, match="Qeq model"):
        LRCalculator(lorem, electrode_potentials=(0.0, 1.0))
    # a changed electrode assignment is a changed structure
    atoms = plates()
    calc.get_potential_energy(atoms)
    atoms.arrays["electrode"][0] = -1
    assert "info" in calc.check_state(atoms)
