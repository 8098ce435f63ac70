"""One contract, every combination of stages: what every lrcalc model promises.

For each combination (short range with and without the total-charge input; Qeq with and without
charge feedback; LOREM with 0 or 1 long-range steps, with and without the Coulomb term) the model
- returns exactly the per-atom outputs it declares (``model.outputs``), and atomic energies that
  sum to the energy;
- gives forces and stress equal to central finite differences of its energy;
- is invariant under rotation, reflection, translation and permutation of the atoms;
- gives the same results for a batch as one structure at a time (mixed total charges);
- survives a model-file round trip and pickling unchanged;
- has charges, where it declares them, that sum to the structure's total charge.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

import lrcalc
from finite_differences import numerical_forces, numerical_stress
from model_fixtures import randomise_output_layers
from structures import make_molecule, make_slab

BASE = {"species": ["H", "C", "N", "O", "Cu"], "cutoff": 3.5, "num_layers": 1, "l_max": 1,
        "num_features": 4, "radial_mlp_hidden": 8, "dtype": "float64", "avg_num_neighbors": 8.0}
COMBINATIONS = {
    "short range": {},
    "short range + Q input": {"total_charge_input": True},
    "qeq": {"long_range": "qeq", "coulomb_accuracy": 1e-8},
    "qeq without feedback": {"long_range": "qeq", "charge_feedback": False, "num_layers_feedback": 0,
                             "coulomb_accuracy": 1e-8},
    "lorem": {"long_range": "lorem", "lorem_l_max": 1, "lorem_channels": 2, "coulomb_accuracy": 1e-8},
    "lorem + coulomb": {"long_range": "lorem", "lorem_l_max": 1, "lorem_channels": 2, "lorem_coulomb": True,
                        "coulomb_accuracy": 1e-8},
    "lorem, no steps + coulomb": {"long_range": "lorem", "num_lr_steps": 0, "lorem_coulomb": True,
                                  "coulomb_accuracy": 1e-8},
}
PER_STRUCTURE = {"energy", "forces", "stress"}

pytestmark = pytest.mark.slow  # tens of seconds in all; `-m "not slow"` skips them


@pytest.fixture(scope="module", params=list(COMBINATIONS), ids=list(COMBINATIONS))
def model(request):
    return randomise_output_layers(lrcalc.build_model({**BASE, **COMBINATIONS[request.param]}), seed=2)


def charged(atoms, charge):
    atoms = atoms.copy()
    atoms.info["charge"] = charge
    return atoms


def run(model, atoms, stress=False):
    graph = lrcalc.atoms_to_graph(atoms, model.species, model.cutoff)
    return model(graph, compute_forces=True, compute_stress=stress)


def test_outputs_are_declared_and_energies_add_up(model):
    out = run(model, charged(make_slab(), 1.0), stress=True)
    assert set(out) == set(model.outputs)
    assert all(value.dtype == torch.float64 for value in out.values())
    torch.testing.assert_close(out["atomic_energies"].sum(), out["energy"][0], rtol=1e-12, atol=1e-9)
    if "charges" in model.outputs:
        assert float(out["charges"].sum()) == pytest.approx(1.0, abs=1e-9)


def test_forces_and_stress_equal_finite_differences(model):
    molecule = charged(make_molecule(), 1.0)
    np.testing.assert_allclose(run(model, molecule)["forces"].numpy(), numerical_forces(model, molecule),
                               rtol=0, atol=1e-6)
    # neutral and net-charged slabs: the Coulomb energy does not depend on the vacuum the sum pads
    # the slab with (which finite strains retune), so the stress is exact for both
    for total in (0.0, 1.0):
        slab = charged(make_slab(), total)
        stress = run(model, slab, stress=True)["stress"][0].numpy()
        np.testing.assert_allclose(stress, numerical_stress(model, slab), rtol=0, atol=1e-6)


def test_invariant_under_rotation_reflection_translation_and_permutation(model):
    molecule = charged(make_molecule(), 1.0)
    reference = run(model, molecule)
    matrix = Rotation.random(random_state=3).as_matrix() @ np.diag([1.0, -1.0, 1.0])  # a rotoreflection
    moved = molecule.copy()
    moved.positions = molecule.positions @ matrix.T + [4.0, -2.5, 7.0]
    order = np.random.default_rng(1).permutation(len(molecule))
    for atoms, forces in ((moved, reference["forces"].numpy() @ matrix.T), (molecule[order], None)):
        result = run(model, atoms)
        assert float(result["energy"][0]) == pytest.approx(float(reference["energy"][0]), abs=1e-9)
        if forces is not None:
            np.testing.assert_allclose(result["forces"].numpy(), forces, atol=1e-8)
    permuted = run(model, molecule[order])
    np.testing.assert_allclose(permuted["forces"].numpy(), reference["forces"].numpy()[order], atol=1e-8)


def test_a_batch_equals_one_structure_at_a_time(model):
    frames = [charged(make_molecule(), 0.0), charged(make_slab(), 1.0), charged(make_molecule(), -1.0)]
    frames[2].positions += 0.1
    batch = model(lrcalc.atoms_to_graph(frames, model.species, model.cutoff), compute_forces=True)
    start = 0
    for b, atoms in enumerate(frames):
        single = run(model, atoms)
        stop = start + len(atoms)
        assert float(batch["energy"][b]) == pytest.approx(float(single["energy"][0]), abs=1e-8)
        torch.testing.assert_close(batch["forces"][start:stop], single["forces"], atol=1e-8, rtol=0)
        start = stop


def test_model_file_round_trip_and_pickle(model, tmp_path):
    atoms = charged(make_slab(), 1.0)
    reference = run(model, atoms)["energy"]
    loaded = lrcalc.load_model(lrcalc.save_model(model, tmp_path / "model.pt"))
    assert loaded.config == model.config and loaded.outputs == model.outputs
    assert torch.equal(run(loaded, atoms)["energy"], reference)
    unpickled = pickle.loads(pickle.dumps(model))
    assert torch.equal(run(unpickled, atoms)["energy"], reference)
