"""NequIP-LR (long_range="qeq"): charges, total-charge constraint, symmetry, exact derivatives,
non-locality, Coulomb's law between distant fragments, and batches of mixed total charge."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import fcc111, molecule
from scipy.spatial.transform import Rotation

import lrcalc
from lrcalc import LRCalculator
from lrcalc.electrostatics import COULOMB_CONSTANT

from finite_differences import numerical_forces, numerical_stress
from model_fixtures import SMALL_QEQ_CONFIG, randomise_output_layers

QEQ_CONFIG = {**SMALL_QEQ_CONFIG, "species": ["H", "C", "N", "O", "Na", "Cl", "Cu"]}


@pytest.fixture(scope="module")
def qeq_model():
    return randomise_output_layers(lrcalc.build_model(QEQ_CONFIG), seed=3)


def charged_molecule(charge=1.0):
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=7)
    atoms.info["charge"] = charge
    return atoms


def slab_with_molecule(charge=0.0):
    slab = fcc111("Cu", size=(2, 2, 2), vacuum=6.0)
    top = slab.positions[:, 2].max()
    slab += Atoms("CO", positions=[[1.2, 0.8, top + 1.9], [1.2, 0.8, top + 3.05]])
    slab.pbc = (True, True, False)
    slab.rattle(0.05, seed=8)
    slab.info["charge"] = charge
    return slab


def evaluate(model, atoms):
    atoms = atoms.copy()
    atoms.calc = LRCalculator(model)
    result = {
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces(),
        "charges": atoms.get_charges(),
    }
    if not atoms.pbc.any():
        result["dipole"] = atoms.get_dipole_moment()
    else:
        result["stress"] = atoms.get_stress(voigt=False)
    return result


@pytest.mark.parametrize("charge", [0.0, 1.0, -2.0])
@pytest.mark.parametrize("make", [charged_molecule, slab_with_molecule], ids=["molecule", "slab"])
def test_charges_sum_to_the_total_charge(qeq_model, make, charge):
    result = evaluate(qeq_model, make(charge))
    assert abs(result["charges"].sum() - charge) < 1e-10
    assert np.abs(result["charges"]).max() > 1e-3  # charges are not trivially zero


def test_invariance_and_equivariance(qeq_model):
    atoms = charged_molecule(1.0)
    reference = evaluate(qeq_model, atoms)
    rotation = Rotation.from_euler("zyx", [0.4, 1.3, -0.8]).as_matrix()
    shift = np.array([3.0, -1.5, 2.2])
    moved = atoms.copy()
    moved.positions = atoms.positions @ rotation.T + shift
    result = evaluate(qeq_model, moved)
    assert abs(result["energy"] - reference["energy"]) < 1e-10 * abs(reference["energy"])
    np.testing.assert_allclose(result["charges"], reference["charges"], atol=1e-10)
    np.testing.assert_allclose(result["forces"], reference["forces"] @ rotation.T, atol=1e-9)
    # a charged molecule's dipole Σ q_i r_i rotates, and moves by Q·t under a translation t
    np.testing.assert_allclose(result["dipole"], reference["dipole"] @ rotation.T + 1.0 * shift, atol=1e-9)


def test_neutral_dipole_is_translation_invariant(qeq_model):
    atoms = charged_molecule(0.0)
    moved = atoms.copy()
    moved.positions += [5.0, -2.0, 1.0]
    np.testing.assert_allclose(evaluate(qeq_model, moved)["dipole"], evaluate(qeq_model, atoms)["dipole"], atol=1e-10)


@pytest.mark.parametrize("make", [lambda: charged_molecule(1.0), lambda: slab_with_molecule(0.0)], ids=["charged-molecule", "slab"])
def test_forces_equal_finite_differences(qeq_model, make):
    atoms = make()
    result = evaluate(qeq_model, atoms)
    numerical = numerical_forces(qeq_model, atoms)
    assert np.abs(result["forces"]).max() > 1e-2
    np.testing.assert_allclose(result["forces"], numerical, atol=1e-6)


def test_slab_stress_equals_finite_differences(qeq_model):
    atoms = slab_with_molecule(0.0)
    stress = evaluate(qeq_model, atoms)["stress"]
    numerical = numerical_stress(qeq_model, atoms)
    assert np.abs(stress).max() > 1e-4
    np.testing.assert_allclose(stress, numerical, atol=1e-6)


def two_fragments(distance, change_a=False):
    a = molecule("H2O")
    if change_a:
        a.positions[1] += [0.0, 0.15, 0.05]
    b = molecule("NH3")
    b.translate([distance, 0.0, 0.0])
    atoms = a + b
    atoms.info["charge"] = 0.0
    return atoms, len(a)


def test_changing_one_fragment_changes_the_other_20_angstrom_away(qeq_model):
    base, n_a = two_fragments(20.0)
    changed, _ = two_fragments(20.0, change_a=True)
    assert 20.0 > 2 * qeq_model.cutoff
    atoms_b = slice(n_a, None)
    charges = [evaluate(qeq_model, s)["charges"][atoms_b] for s in (base, changed)]
    energies = []
    for s in (base, changed):
        s = s.copy()
        s.calc = LRCalculator(qeq_model)
        energies.append(s.get_potential_energies()[atoms_b].sum())
    assert np.abs(charges[1] - charges[0]).max() > 1e-6
    assert abs(energies[1] - energies[0]) > 1e-8
    # a short-range model of the same cutoff cannot see the change
    short = randomise_output_layers(lrcalc.build_model(
        {k: v for k, v in QEQ_CONFIG.items() if k != "num_layers_feedback"} | {"long_range": "none"}
    ))
    short_energies = []
    for s in (base, changed):
        s = s.copy()
        s.calc = LRCalculator(short)
        short_energies.append(s.get_potential_energies()[atoms_b].sum())
    assert short_energies[0] == short_energies[1]


@pytest.mark.parametrize("distance", [20.0, 30.0, 50.0])
def test_force_between_distant_charged_fragments_is_coulombs_law(distance):
    """Na and Cl atoms far apart: Qeq transfers charge q_Na = −q_Cl; with the charge feedback off,
    the energy is minimal in q, so the force on Cl is exactly k_e q_Na q_Cl / r² along the axis."""
    model = randomise_output_layers(lrcalc.build_model({**QEQ_CONFIG, "charge_feedback": False}), seed=4)
    with torch.no_grad():  # make sure the two species differ clearly in electronegativity
        model.long_range.electronegativity_shift[model.species.index("Na")] = -2.0
        model.long_range.electronegativity_shift[model.species.index("Cl")] = 2.0
    atoms = Atoms("NaCl", positions=[[0, 0, 0], [distance, 0, 0]])
    result = evaluate(model, atoms)
    q_na, q_cl = result["charges"]
    assert q_na > 0.05 and abs(q_na + q_cl) < 1e-12
    coulomb = COULOMB_CONSTANT * q_na * q_cl / distance**2
    # F_Cl = −∂E/∂x_Cl = +k_e q_Na q_Cl / r² · x̂ (attractive: q_Na q_Cl < 0 pulls Cl towards −x)
    np.testing.assert_allclose(result["forces"][1], [coulomb, 0, 0], rtol=1e-6, atol=1e-12)


def test_energy_difference_of_distant_ions_follows_coulomb():
    """E(r₁) − E(r₂) equals the work of the Coulomb force, k_e q_a q_b (1/r₁ − 1/r₂), up to the
    small change of the transferred charge with r (feedback off)."""
    model = randomise_output_layers(lrcalc.build_model({**QEQ_CONFIG, "charge_feedback": False}), seed=4)
    with torch.no_grad():
        model.long_range.electronegativity_shift[model.species.index("Na")] = -2.0
        model.long_range.electronegativity_shift[model.species.index("Cl")] = 2.0
    r1, r2 = 25.0, 50.0
    e1 = evaluate(model, Atoms("NaCl", positions=[[0, 0, 0], [r1, 0, 0]]))
    e2 = evaluate(model, Atoms("NaCl", positions=[[0, 0, 0], [r2, 0, 0]]))
    q = 0.5 * (e1["charges"][0] + e2["charges"][0])
    expected = COULOMB_CONSTANT * q * -q * (1 / r1 - 1 / r2)
    assert abs((e1["energy"] - e2["energy"]) - expected) < 1e-3 * abs(expected)


def test_batch_with_mixed_total_charges_equals_one_at_a_time(qeq_model):
    frames = [charged_molecule(1.0), slab_with_molecule(0.0), charged_molecule(-1.0), slab_with_molecule(2.0)]
    graph = lrcalc.atoms_to_graph(frames, qeq_model.species, qeq_model.cutoff)
    batch = qeq_model(graph, compute_forces=True, compute_stress=True)
    start = 0
    for b, atoms in enumerate(frames):
        single = qeq_model(lrcalc.atoms_to_graph(atoms, qeq_model.species, qeq_model.cutoff),
                           compute_forces=True, compute_stress=True)
        n = len(atoms)
        torch.testing.assert_close(batch["energy"][b], single["energy"][0], rtol=1e-11, atol=1e-11)
        torch.testing.assert_close(batch["charges"][start:start + n], single["charges"], rtol=0, atol=1e-11)
        torch.testing.assert_close(batch["forces"][start:start + n], single["forces"], rtol=0, atol=1e-10)
        assert abs(float(batch["charges"][start:start + n].sum()) - atoms.info["charge"]) < 1e-10
        start += n


def test_config_keys_of_qeq_are_refused_for_short_range():
    with pytest.raises(lrcalc.ConfigError, match="do not apply to long_range='none'"):
        lrcalc.build_model({"species": ["Cu"], "cutoff": 4.0, "charge_feedback": False})


def test_short_range_calculator_has_no_charges(small_model):
    from ase.calculators.calculator import PropertyNotImplementedError

    atoms = charged_molecule(0.0)
    atoms.calc = LRCalculator(small_model)
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_charges()


def test_qeq_model_round_trip(qeq_model, tmp_path):
    path = lrcalc.save_model(qeq_model, tmp_path / "qeq.pt")
    loaded = lrcalc.load_model(path)
    atoms = slab_with_molecule(1.0)
    a, b = evaluate(qeq_model, atoms), evaluate(loaded, atoms)
    assert a["energy"] == b["energy"]
    np.testing.assert_array_equal(a["charges"], b["charges"])


def test_calculator_qeq_accuracy_override(qeq_model):
    """``LRCalculator(..., qeq_accuracy=...)`` (older name of ``coulomb_accuracy``) sets the accuracy
    of the Coulomb sums and charge solve of that calculator only; results at 1e-4 (the default) and
    1e-10 agree to that accuracy, and the model object is left as it was."""
    model = randomise_output_layers(lrcalc.build_model(QEQ_CONFIG), seed=3)
    assert model.config["coulomb_accuracy"] == 1e-4
    before = {k: v.clone() for k, v in model.state_dict().items()}
    slab = slab_with_molecule().repeat((3, 3, 1))
    loose = evaluate(model, slab)
    tight_calc = LRCalculator(model, qeq_accuracy=1e-10)
    assert tight_calc.parameters["coulomb_accuracy"] == 1e-10
    assert model.config["coulomb_accuracy"] == 1e-4 and model.long_range.coulomb_accuracy == 1e-4
    atoms = slab.copy()
    atoms.calc = tight_calc
    forces = atoms.get_forces()
    scale = np.abs(forces).max()
    assert np.abs(loose["forces"] - forces).max() < 1e-3 * scale
    assert np.abs(loose["charges"] - atoms.get_charges()).max() < 1e-3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="coulomb_accuracy"):
        LRCalculator(model, qeq_accuracy=0.5)
    short_range = lrcalc.build_model({"species": ["Cu"], "cutoff": 3.0, "num_layers": 1, "num_features": 4})
    with pytest.raises(ValueError, match="only to models"):
        LRCalculator(short_range, qeq_accuracy=1e-6)
