"""The calculator contract: every input a result depends on invalidates it, settings are ASE
parameters, the model given is never changed, a calculator pickles, and the same structure gives
the same energy wherever it sits in space."""

import pickle

import numpy as np
import pytest
import torch

import lrcalc
from lrcalc import LRCalculator
from lrcalc.structures import benzotriazole, bta_on_cu111


def energy_and_charges(atoms, calc):
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_charges()


# ------------------------------------------------------------- defect 1: the total charge is an input


def test_a_change_of_the_total_charge_invalidates_the_results():
    atoms = bta_on_cu111()
    calc = LRCalculator("bta_cu.pt")
    neutral, q0 = energy_and_charges(atoms, calc)
    atoms.info["charge"] = 1
    charged, q1 = energy_and_charges(atoms, calc)
    fresh, q_fresh = energy_and_charges(atoms.copy(), LRCalculator("bta_cu.pt"))
    assert q1.sum() == pytest.approx(1.0, abs=1e-9) and q0.sum() == pytest.approx(0.0, abs=1e-9)
    assert charged == pytest.approx(fresh, abs=1e-6) and abs(charged - neutral) > 0.1
    np.testing.assert_allclose(q1, q_fresh, atol=1e-6)
    atoms.info["charge"] = 0  # and back
    again, q_again = energy_and_charges(atoms, calc)
    assert again == pytest.approx(neutral, abs=1e-6) and q_again.sum() == pytest.approx(0.0, abs=1e-9)


def test_check_state_reports_the_total_charge():
    atoms = benzotriazole()
    calc = LRCalculator("dimers_qeq.pt")
    atoms.calc = calc
    atoms.get_potential_energy()
    assert calc.check_state(atoms) == []
    atoms.info["charge"] = -1
    assert "info" in calc.check_state(atoms)


# ---------------------------------------------------- defect 2: the model given is never changed


def small_qeq_model(dtype="float64"):
    return lrcalc.build_model({"species": ["H", "C", "N"], "cutoff": 4.0, "long_range": "qeq",
                               "num_layers": 1, "num_features": 8, "dtype": dtype})


def test_calculators_never_change_the_model_they_share():
    model = small_qeq_model("float32")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    atoms = benzotriazole()
    first = LRCalculator(model)
    e_first = energy_and_charges(atoms.copy(), first)[0]
    LRCalculator(model, qeq_accuracy=1e-8, dtype="float64")
    LRCalculator(model).set(coulomb_accuracy=1e-2)
    assert model.config["coulomb_accuracy"] == 1e-4 and model.long_range.coulomb_accuracy == 1e-4
    assert model.dtype == torch.float32 and model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    first.reset()
    assert energy_and_charges(atoms.copy(), first)[0] == e_first


# ------------------------------------------------------------------------ settings as parameters


def test_settings_are_ase_parameters():
    calc = LRCalculator("dimers_qeq.pt")
    assert calc.todict(skip_default=False) == {"device": "cpu", "dtype": None, "coulomb_accuracy": None,
                                               "electric_field": None, "electrode_potentials": None}
    assert calc.todict() == {}
    atoms = benzotriazole()
    atoms.calc = calc
    atoms.get_potential_energy()
    assert calc.results
    changed = calc.set(qeq_accuracy=1e-6)  # the older name
    assert changed == {"coulomb_accuracy": 1e-6} and calc.results == {}
    assert calc.parameters["coulomb_accuracy"] == 1e-6
    assert calc.set(coulomb_accuracy=1e-6) == {} and calc.todict()["coulomb_accuracy"] == 1e-6


def test_unknown_arguments_and_bad_values_are_errors():
    with pytest.raises(TypeError, match="coulomb_acuracy"):
        LRCalculator("dimers_qeq.pt", coulomb_acuracy=1e-6)
    calc = LRCalculator("dimers_qeq.pt")
    with pytest.raises(TypeError, match="unknown setting"):
        calc.set(temperature=300)
    with pytest.raises(ValueError, match="dtype"):
        calc.set(dtype="float16")
    with pytest.raises(ValueError, match="coulomb_accuracy"):
        calc.set(coulomb_accuracy=1.0)
    with pytest.raises(ValueError, match="only to models"):
        LRCalculator("dimers_sr.pt", coulomb_accuracy=1e-6)


def test_dtype_setting_evaluates_in_float64_and_back():
    atoms = bta_on_cu111()
    calc = LRCalculator("bta_cu.pt")
    assert calc.model.dtype == torch.float32
    e32 = energy_and_charges(atoms, calc)[0]
    calc.set(dtype="float64")
    assert calc.model.dtype == torch.float64
    e64 = energy_and_charges(atoms, calc)[0]
    assert e64 != e32 and abs(e64 - e32) < 1e-2  # float32 round-off of the network only
    calc.set(dtype=None)
    assert energy_and_charges(atoms, calc)[0] == e32


# ------------------------------------------------------------------------------ defect 3: pickle


@pytest.mark.parametrize("name", ["bta_cu.pt", "bta_cu_lorem.pt", "bta_cu_sr.pt"])
def test_a_pickled_calculator_gives_the_same_results(name):
    atoms = bta_on_cu111()
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=atoms.positions.shape)
    calc = LRCalculator(name, coulomb_accuracy=1e-6) if name != "bta_cu_sr.pt" else LRCalculator(name)
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    clone = pickle.loads(pickle.dumps(calc))
    assert clone.parameters == calc.parameters
    copy = atoms.copy()
    copy.calc = clone
    assert copy.get_potential_energy() == pytest.approx(energy, abs=1e-8)
    np.testing.assert_allclose(copy.get_forces(), forces, atol=1e-8)


# --------------------------------------------- defect 5: the same structure anywhere in space


@pytest.mark.parametrize("name", ["bta_cu.pt", "bta_cu_lorem.pt"])
def test_a_float32_model_is_translation_invariant_far_from_the_origin(name):
    molecule = benzotriazole()
    calc = LRCalculator(name)
    assert calc.model.dtype == torch.float32
    molecule.calc = calc
    near, forces_near = molecule.get_potential_energy(), molecule.get_forces()
    far = molecule.copy()
    far.positions += [1e6, -3e5, 7e5]
    far.calc = LRCalculator(name)
    assert far.get_potential_energy() == pytest.approx(near, abs=1e-4)
    np.testing.assert_allclose(far.get_forces(), forces_near, atol=1e-4)


@pytest.mark.parametrize("name", ["bta_cu.pt", "bta_cu_lorem.pt", "bta_cu_sr.pt"])
def test_an_in_plane_shift_of_a_slab_is_the_same_structure(name):
    slab = bta_on_cu111()
    slab.calc = LRCalculator(name)
    reference, forces = slab.get_potential_energy(), slab.get_forces()
    for shift in ([1e6, 2.5e5, 0.0], [3.7, -1.2, 0.0]):
        moved = slab.copy()
        moved.positions += shift
        moved.calc = LRCalculator(name)
        assert moved.get_potential_energy() == pytest.approx(reference, abs=1e-4), shift
        np.testing.assert_allclose(moved.get_forces(), forces, atol=1e-4)


def test_the_run_state_is_public_and_reported():
    """The calculator's warm start is readable (its solve statistics) and replaceable per run."""
    from lrcalc.electrostatics import QeqWarmStart

    atoms = bta_on_cu111().repeat((3, 3, 1))  # 414 atoms: the iterative solve
    calc = LRCalculator("bta_cu.pt")
    atoms.calc = calc
    atoms.get_forces()
    stats = calc.qeq_warm_start.stats
    assert len(stats.charge_iterations) == 1 and stats.charge_iterations[0] > 0
    mine = QeqWarmStart(extrapolate=False, recycle=False)
    calc.reset_run_state(qeq_warm_start=mine)
    assert calc.qeq_warm_start is mine
    with pytest.raises(ValueError, match="only to models"):
        LRCalculator("bta_cu_sr.pt").reset_run_state(qeq_warm_start=QeqWarmStart())


def test_dipole_of_a_slab_is_a_clear_error():
    from ase.calculators.calculator import PropertyNotImplementedError

    slab = bta_on_cu111()
    slab.calc = LRCalculator("bta_cu.pt")
    with pytest.raises(PropertyNotImplementedError, match="molecules"):
        slab.get_dipole_moment()
    molecule = benzotriazole()
    molecule.calc = LRCalculator("bta_cu.pt")
    dipole = molecule.get_dipole_moment()  # −∂E/∂E_field: charges plus their feedback into the energy
    np.testing.assert_allclose(molecule.calc.results["charges_dipole"], molecule.get_charges() @ molecule.positions)
    assert np.linalg.norm(dipole - molecule.calc.results["charges_dipole"]) > 1e-6
