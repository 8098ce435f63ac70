"""LOREM (long_range="lorem"): equivariant charges and potentials, symmetry, exact derivatives,
orientation dependence beyond the cutoff, total-charge input, the optional Coulomb term, batches,
configs and model files."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError
from scipy.spatial.transform import Rotation

import lrcalc
from lrcalc import LRCalculator
from lrcalc.nn.equivariant_charges import StructureCoulomb
from lrcalc.nn.fields import EvaluationOptions, ModelFields

from finite_differences import numerical_forces, numerical_stress
from model_fixtures import randomise_output_layers
from structures import make_molecule, make_slab, make_triclinic_crystal

LOREM_CONFIG = {
    "species": ["H", "C", "N", "O", "F", "Cu"],
    "cutoff": 4.0,
    "long_range": "lorem",
    "num_layers": 1,
    "l_max": 1,
    "num_features": 8,
    "dtype": "float64",
    "avg_num_neighbors": 10.0,
    "seed": 2,
    "num_lr_steps": 2,
    "lorem_l_max": 2,
    "lorem_channels": 2,
    "lorem_coulomb": True,
    "lorem_accuracy": 1e-6,
}


def make_polar_crystal() -> Atoms:
    """Water and HF in a small triclinic cell (5 atoms, no symmetry)."""
    atoms = molecule("H2O") + molecule("HF")
    atoms.positions[3:] += [2.6, 1.1, 0.4]
    atoms.cell = [[5.2, 0.0, 0.0], [0.8, 4.9, 0.0], [-0.6, 0.7, 5.4]]
    atoms.pbc = True
    atoms.rattle(0.05, seed=9)
    return atoms


STRUCTURES = {"molecule": make_molecule, "triclinic": make_triclinic_crystal, "crystal": make_polar_crystal,
              "slab": make_slab}


@pytest.fixture(scope="module")
def lorem_model():
    """Two long-range steps, l ≤ 2 charges (from l ≤ 1 features) and the Coulomb term."""
    return randomise_output_layers(lrcalc.build_model(LOREM_CONFIG), seed=3)


def with_charge(atoms: Atoms, charge: float) -> Atoms:
    atoms = atoms.copy()
    atoms.info["charge"] = charge
    return atoms


def evaluate(model, atoms) -> dict:
    atoms = atoms.copy()
    calc = LRCalculator(model)
    atoms.calc = calc
    result = {"energy": atoms.get_potential_energy(), "energies": atoms.get_potential_energies(),
              "forces": atoms.get_forces()}
    if atoms.pbc.any():
        result["stress"] = atoms.get_stress(voigt=False)
    if "charges" in calc.model.outputs:
        result["charges"] = atoms.get_charges()
    return result


def transformed(atoms: Atoms, matrix: np.ndarray, shift=(0.0, 0.0, 0.0)) -> Atoms:
    moved = atoms.copy()
    moved.positions = atoms.positions @ matrix.T + np.asarray(shift)
    moved.cell = atoms.cell[:] @ matrix.T
    return moved


ROTATION = Rotation.from_euler("zyx", [0.7, -1.1, 2.3]).as_matrix()
ROTOREFLECTION = np.diag([1.0, 1.0, -1.0]) @ Rotation.from_euler("xyz", [0.3, 0.2, -0.9]).as_matrix()


# ------------------------------------------------------------------------ the long-range message


@pytest.mark.parametrize("matrix", [ROTATION, ROTOREFLECTION], ids=["rotation", "rotoreflection"])
@pytest.mark.parametrize("name", ["molecule", "crystal", "slab"])
def test_charges_and_potentials_transform_like_irreps(lorem_model, name, matrix):
    """q_i(R·x) = D(R) q_i(x) and V_i(R·x) = D(R) V_i(x): the Coulomb kernel is invariant, so
    every (channel, l, m) component's potential transforms like that component."""
    step = lorem_model.long_range.steps[0]
    D = step.charges.irreps_out.D_from_matrix(torch.as_tensor(matrix))

    def charges_and_potentials(atoms):
        graph = lrcalc.atoms_to_graph(with_charge(atoms, 1.0), lorem_model.species, lorem_model.cutoff)
        positions, cell = graph["positions"], graph["cell"]
        fields = ModelFields(graph, positions, cell, lorem_model.dtype, EvaluationOptions())
        lorem_model.local(fields)  # the local block alone
        h = fields.features
        q = step.charges(h, graph)
        coulomb = StructureCoulomb(graph, positions, cell, lorem_model.long_range.sigma, "auto", 1e-6)
        return q.detach(), coulomb(q).detach()

    atoms = STRUCTURES[name]()
    q0, v0 = charges_and_potentials(atoms)
    q1, v1 = charges_and_potentials(transformed(atoms, matrix))
    l2 = step.charges.irreps_out.slices()[-1]  # the l = 2 block comes from the bilinear part
    assert q0[:, l2].abs().max() > 1e-3 and v0.abs().max() > 1e-3
    # e3nn's Wigner matrices D(R) are accurate to ~1e-7 in float64; an error of the model (a wrong
    # parity or order) would be O(1)
    torch.testing.assert_close(q1, q0 @ D.T, rtol=0, atol=1e-6 * float(q0.abs().max()))
    torch.testing.assert_close(v1, v0 @ D.T, rtol=0, atol=1e-6 * float(v0.abs().max()))


# ----------------------------------------------------------------------------------- symmetry


@pytest.mark.parametrize("matrix", [ROTATION, ROTOREFLECTION], ids=["rotation", "rotoreflection"])
@pytest.mark.parametrize("name", ["molecule", "triclinic", "crystal", "slab"])
def test_energy_invariant_forces_and_stress_equivariant(lorem_model, name, matrix):
    atoms = with_charge(STRUCTURES[name](), 1.0)
    reference = evaluate(lorem_model, atoms)
    result = evaluate(lorem_model, transformed(atoms, matrix, shift=[1.3, -0.7, 0.4]))
    assert abs(reference["energy"]) > 1e-3
    assert abs(result["energy"] - reference["energy"]) < 1e-10 * abs(reference["energy"])
    scale = np.abs(reference["forces"]).max()
    assert scale > 1e-3
    # 1e-9 eV/Å absolute: the rounding of the float64 Coulomb sums of a rotated slab (its layer
    # correction holds terms up to e^{k t/2}) shows at a few 1e-10 eV/Å
    np.testing.assert_allclose(result["forces"], reference["forces"] @ matrix.T, rtol=0, atol=1e-10 * scale + 1e-9)
    np.testing.assert_allclose(result["charges"], reference["charges"], rtol=0, atol=1e-10)
    if "stress" in reference:
        expected = matrix @ reference["stress"] @ matrix.T
        np.testing.assert_allclose(result["stress"], expected, rtol=0, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("name", ["molecule", "crystal", "slab"])
def test_permutation_invariance(lorem_model, name):
    atoms = with_charge(STRUCTURES[name](), -1.0)
    order = np.random.default_rng(0).permutation(len(atoms))
    reference, result = evaluate(lorem_model, atoms), evaluate(lorem_model, atoms[order])
    assert abs(result["energy"] - reference["energy"]) < 1e-10 * abs(reference["energy"])
    for key in ("energies", "forces", "charges"):
        scale = np.abs(reference[key]).max()
        np.testing.assert_allclose(result[key], reference[key][order], rtol=0, atol=1e-10 * scale)


# -------------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("name, charge", [("molecule", 1.0), ("crystal", 1.0), ("slab", 0.0)])
def test_forces_equal_finite_differences(lorem_model, name, charge):
    atoms = with_charge(STRUCTURES[name](), charge)
    forces = evaluate(lorem_model, atoms)["forces"]
    assert np.abs(forces).max() > 1e-2
    np.testing.assert_allclose(forces, numerical_forces(lorem_model, atoms), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name, charge", [("triclinic", 1.0), ("crystal", 1.0), ("slab", 0.0), ("slab", 1.0)])
def test_stress_equals_finite_strain_differences(lorem_model, name, charge):
    """For every cell kind and total charge, the Coulomb term of a net-charged slab included: its
    energy does not depend on the vacuum gap the electrostatics engine picks from the cell."""
    atoms = with_charge(STRUCTURES[name](), charge)
    stress = evaluate(lorem_model, atoms)["stress"]
    assert np.abs(stress).max() > 1e-4
    np.testing.assert_allclose(stress, numerical_stress(lorem_model, atoms), rtol=0, atol=1e-6)


@pytest.mark.slow
def test_charged_slab_derivatives_are_exact_without_the_coulomb_term():
    """The equivariant charges are neutral in every channel, so a net-charged slab's LOREM energy
    does not depend on the vacuum gap the engine picks from the geometry: forces and stress are
    exact for any total charge."""
    model = randomise_output_layers(lrcalc.build_model({**LOREM_CONFIG, "lorem_coulomb": False}), seed=7)
    atoms = with_charge(make_slab(), 1.0)
    result = evaluate(model, atoms)
    np.testing.assert_allclose(result["forces"], numerical_forces(model, atoms), rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["stress"], numerical_stress(model, atoms), rtol=0, atol=1e-6)


# --------------------------------------------------------------------- reach beyond the cutoff


def two_hf(rotation_of_b: np.ndarray) -> Atoms:
    """Two HF molecules (along z) 15 Å apart along x; the second one rotated rigidly about its own
    centre."""
    a = molecule("HF")
    b = molecule("HF")
    centre = b.positions.mean(axis=0)
    b.positions = (b.positions - centre) @ rotation_of_b.T + centre + [15.0, 0.0, 0.0]
    return a + b


SHORT_RANGE_KEYS = ("species", "cutoff", "num_layers", "l_max", "num_features", "dtype", "avg_num_neighbors",
                    "seed")


def test_orientation_of_a_fragment_beyond_the_cutoff_changes_the_energy():
    """Turning one HF molecule about its own centre, 15 Å from the other (cutoff 5 Å), changes the
    LOREM energy; the short-range model of the same settings cannot tell."""
    config = {**LOREM_CONFIG, "cutoff": 5.0, "lorem_coulomb": False}
    lorem = randomise_output_layers(lrcalc.build_model(config), seed=5)
    short = randomise_output_layers(lrcalc.build_model(
        {key: config[key] for key in SHORT_RANGE_KEYS} | {"long_range": "none"}), seed=5)
    base, turned = two_hf(np.eye(3)), two_hf(Rotation.from_euler("y", 90, degrees=True).as_matrix())
    between = np.linalg.norm(base.positions[:2, None] - base.positions[None, 2:], axis=-1)
    assert between.min() > config["num_layers"] * config["cutoff"]  # outside the receptive field
    lorem_change = evaluate(lorem, turned)["energy"] - evaluate(lorem, base)["energy"]
    short_change = evaluate(short, turned)["energy"] - evaluate(short, base)["energy"]
    assert abs(lorem_change) > 1e-6  # ~2e-5 eV here; numerical noise is ~1e-14
    assert abs(short_change) < 1e-10


# ------------------------------------------------------------------------------ total charge


@pytest.mark.parametrize("name", ["molecule", "slab"])
def test_total_charge_changes_the_energy(name):
    model = randomise_output_layers(lrcalc.build_model({**LOREM_CONFIG, "lorem_coulomb": False}), seed=6)
    neutral, cation = (evaluate(model, with_charge(STRUCTURES[name](), q))["energy"] for q in (0.0, 1.0))
    assert abs(cation - neutral) > 1e-3


def test_without_total_charge_input_the_total_charge_is_ignored():
    model = randomise_output_layers(lrcalc.build_model(
        {**LOREM_CONFIG, "lorem_coulomb": False, "total_charge_input": False}), seed=6)
    neutral, cation = (evaluate(model, with_charge(make_molecule(), q)) for q in (0.0, 1.0))
    assert neutral["energy"] == cation["energy"]


@pytest.mark.parametrize("charge", [0.0, 1.0, -2.0])
@pytest.mark.parametrize("name", ["molecule", "crystal", "slab"])
def test_coulomb_charges_sum_to_the_total_charge(lorem_model, name, charge):
    charges = evaluate(lorem_model, with_charge(STRUCTURES[name](), charge))["charges"]
    assert abs(charges.sum() - charge) < 1e-10
    assert np.abs(charges - charge / len(charges)).max() > 1e-3  # not trivially uniform


def test_coulomb_term_is_half_charge_times_potential(lorem_model):
    """E = E(same weights, no Coulomb term) + ½ Σ q_i φ_i, with φ from the electrostatics engine."""
    atoms = with_charge(make_molecule(), 1.0)
    graph = lrcalc.atoms_to_graph(atoms, lorem_model.species, lorem_model.cutoff)
    out = lorem_model(graph, compute_forces=False)
    charges = out["charges"]
    potential = lrcalc.electrostatics.electrostatic_potential(
        graph["positions"], charges, sigma=torch.full_like(charges, lorem_model.long_range.sigma))
    torch.testing.assert_close(out["electrostatic_potentials"], potential, rtol=1e-12, atol=1e-12)
    without_term = copy.deepcopy(lorem_model)
    without_term.coulomb_term = None
    coulomb = 0.5 * (charges * potential).sum()
    assert abs(float(coulomb)) > 1e-3
    difference = out["energy"][0] - without_term(graph, compute_forces=False)["energy"][0]
    torch.testing.assert_close(difference, coulomb, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------ batches


def test_batch_with_mixed_total_charges_equals_one_at_a_time(lorem_model):
    frames = [with_charge(make_molecule(), 1.0), with_charge(make_slab(), 0.0),
              with_charge(make_molecule(), -1.0), with_charge(make_triclinic_crystal(), 2.0)]
    graph = lrcalc.atoms_to_graph(frames, lorem_model.species, lorem_model.cutoff)
    batch = lorem_model(graph, compute_forces=True, compute_stress=True)
    start = 0
    for b, atoms in enumerate(frames):
        single = lorem_model(lrcalc.atoms_to_graph(atoms, lorem_model.species, lorem_model.cutoff),
                             compute_forces=True, compute_stress=True)
        atoms_b = slice(start, start + len(atoms))
        start += len(atoms)
        torch.testing.assert_close(batch["energy"][b], single["energy"][0], rtol=1e-12, atol=1e-11)
        torch.testing.assert_close(batch["forces"][atoms_b], single["forces"], rtol=0, atol=1e-10)
        torch.testing.assert_close(batch["charges"][atoms_b], single["charges"], rtol=0, atol=1e-11)
        if atoms.pbc.any():
            torch.testing.assert_close(batch["stress"][b], single["stress"][0], rtol=0, atol=1e-10)


# ------------------------------------------------------------------------ calculator and files


def test_calculator_reports_charges_only_with_the_coulomb_term(lorem_model):
    atoms = with_charge(make_molecule(), 1.0)
    atoms.calc = LRCalculator(lorem_model)
    assert abs(atoms.get_charges().sum() - 1.0) < 1e-10
    np.testing.assert_allclose(atoms.calc.get_property("charges_dipole", atoms), atoms.get_charges() @ atoms.positions)
    assert atoms.get_dipole_moment().shape == (3,)  # −∂E/∂E_field (tests/test_electric_field.py)
    without = lrcalc.build_model({**LOREM_CONFIG, "lorem_coulomb": False})
    atoms.calc = LRCalculator(without)
    atoms.get_potential_energy()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_charges()


def test_model_file_round_trip(lorem_model, tmp_path):
    loaded = lrcalc.load_model(lrcalc.save_model(lorem_model, tmp_path / "lorem.pt"))
    assert loaded.config == lorem_model.config
    atoms = with_charge(make_slab(), 1.0)
    a, b = evaluate(lorem_model, atoms), evaluate(loaded, atoms)
    assert a["energy"] == b["energy"]
    np.testing.assert_array_equal(a["forces"], b["forces"])
    np.testing.assert_array_equal(a["charges"], b["charges"])


def test_deep_copy_keeps_the_state_dict(lorem_model, tmp_path):
    """Training deep-copies the model (EMA); e3nn's generated tensor products then gain a constant
    buffer. It must not enter the state dict, or a fresh model could not load a trained one."""
    import copy

    copied = copy.deepcopy(lorem_model)
    assert set(copied.state_dict()) == set(lorem_model.state_dict())
    fresh = lrcalc.build_model(lorem_model.config)
    fresh.load_state_dict(copied.state_dict())  # strict
    copied.load_state_dict(fresh.state_dict())
    loaded = lrcalc.load_model(lrcalc.save_model(copied, tmp_path / "copied.pt"))
    atoms = with_charge(make_slab(), 1.0)
    assert evaluate(loaded, atoms)["energy"] == evaluate(lorem_model, atoms)["energy"]


# ------------------------------------------------------------------------------------ configs


def test_defaults_build_a_model():
    model = lrcalc.build_model({"species": ["H", "O"], "cutoff": 4.0, "long_range": "lorem"})
    assert model.config["lorem_l_max"] == 2 and model.config["lorem_channels"] == 4
    assert str(model.long_range.steps[0].charges.irreps_out) == "4x0e+4x1o+4x2e"
    assert "charges" not in model(lrcalc.atoms_to_graph(molecule("H2O"), model.species, 4.0))


@pytest.mark.parametrize("long_range", ["none", "qeq"])
def test_lorem_keys_are_refused_for_other_models(long_range):
    with pytest.raises(lrcalc.ConfigError, match=f"do not apply to long_range='{long_range}'"):
        lrcalc.build_model({"species": ["Cu"], "cutoff": 4.0, "long_range": long_range, "lorem_channels": 2})


@pytest.mark.parametrize("key, value", [
    ("num_lr_steps", -1), ("num_lr_steps", 1.5), ("lorem_l_max", -1), ("lorem_l_max", 3),
    ("lorem_channels", 0), ("lorem_channels", True), ("lorem_sigma", 0.0), ("lorem_sigma", "1"),
    ("lorem_coulomb", "yes"), ("total_charge_input", 1), ("lorem_method", "fft"),
    ("lorem_accuracy", 0.5), ("lorem_accuracy", 0.0),
])
def test_bad_lorem_values_are_refused(key, value):
    config = {"species": ["Cu"], "cutoff": 4.0, "long_range": "lorem", "l_max": 1, key: value}
    with pytest.raises(lrcalc.ConfigError, match=key):
        lrcalc.build_model(config)
