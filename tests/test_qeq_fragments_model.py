"""Qeq models with ``charge_constraint: fragments``: the charge of each fragment (molecule) is kept.

The fragments come with the structure (``atoms.arrays["fragment"]``, ``atoms.info["fragment_charges"]``)
or, for training data, from data keys (the dimers' ``indexB`` and ``chargeA``/``chargeB``). One
fragment reproduces the total-charge model exactly; two far-apart fragments keep their charges where
the total-charge model leaks charge between them; a structure without fragments is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

import lrcalc
from lrcalc import LRCalculator
from lrcalc.errors import ConfigError, InputError
from lrcalc.graph import atoms_to_graph
from lrcalc.training.config import resolve_training_config
from lrcalc.training.data import Dataset, assign_fragments, read_dataset

from finite_differences import numerical_forces
from model_fixtures import SMALL_QEQ_CONFIG, randomise_output_layers

CONFIG = dict(SMALL_QEQ_CONFIG)  # species H, C, N, O


def model_pair():
    """The same weights with the total-charge and the fragment constraint."""
    total = randomise_output_layers(lrcalc.build_model(CONFIG), seed=3)
    fragments = lrcalc.build_model({**CONFIG, "charge_constraint": "fragments"})
    fragments.load_state_dict(total.state_dict())
    return total, fragments


@pytest.fixture(scope="module")
def models():
    return model_pair()


def dimer(separation: float, charges=(1.0, 0.0)) -> Atoms:
    """An ammonium-like cation NH4 (fragment 0) and a water molecule (fragment 1) along x."""
    cation = molecule("NH3")
    cation += Atoms("H", positions=[cation.positions[0] + [0.0, 0.0, 1.02]])
    water = molecule("H2O")
    water.positions += [separation, 0.0, 0.0]
    atoms = cation + water
    atoms.rattle(0.02, seed=4)
    atoms.arrays["fragment"] = np.array([0] * len(cation) + [1] * len(water))
    atoms.info["fragment_charges"] = list(charges)
    atoms.info["charge"] = float(sum(charges))
    return atoms


def evaluate(model, atoms):
    atoms = atoms.copy()
    atoms.calc = LRCalculator(model)
    return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
            "charges": atoms.get_charges()}


def test_one_fragment_reproduces_the_total_charge_model(models):
    total, fragments = models
    atoms = dimer(3.5)
    atoms.arrays["fragment"] = np.zeros(len(atoms), dtype=int)
    atoms.info["fragment_charges"] = [1.0]
    a, b = evaluate(total, atoms), evaluate(fragments, atoms)
    assert a["energy"] == b["energy"]
    assert np.array_equal(a["forces"], b["forces"]) and np.array_equal(a["charges"], b["charges"])


def test_far_apart_fragments_keep_their_charges(models):
    """At 20 Å the cation keeps +1 e and water stays neutral; the total constraint moves charge."""
    total, fragments = models
    atoms = dimer(20.0)
    n_cation = int((atoms.arrays["fragment"] == 0).sum())
    leaked = evaluate(total, atoms)["charges"][n_cation:].sum()
    kept = evaluate(fragments, atoms)["charges"]
    assert abs(leaked) > 1e-2
    assert abs(kept[:n_cation].sum() - 1.0) < 1e-10 and abs(kept[n_cation:].sum()) < 1e-10


def test_forces_are_finite_differences_of_the_energy(models):
    _, fragments = models
    atoms = dimer(3.0)
    analytic = evaluate(fragments, atoms)["forces"]
    numeric = numerical_forces(fragments, atoms, h=1e-4)
    assert np.abs(analytic - numeric).max() < 1e-6


def test_structure_without_fragments_is_an_error(models):
    _, fragments = models
    atoms = dimer(4.0)
    del atoms.info["fragment_charges"]
    with pytest.raises(InputError, match="charge_constraint: fragments"):
        evaluate(fragments, atoms)
    atoms = dimer(4.0)
    atoms.info["charge"] = 0.0  # the fragments add up to +1 e
    with pytest.raises(InputError, match="add up to 1 e, but atoms.info\\['charge'\\] = 0 e"):
        evaluate(fragments, atoms)
    graph = atoms_to_graph(dimer(4.0), CONFIG["species"], CONFIG["cutoff"])
    graph["total_charge"] = torch.zeros(1, dtype=torch.float64)  # a caller's total that disagrees
    with pytest.raises(InputError, match="add up to 1 e but the total charge is 0 e"):
        fragments(graph)


def test_batches_match_single_structures(models):
    """A batch of structures with different numbers of fragments (from atoms_to_graph and from a
    dataset's collate) gives each structure's own result."""
    _, fragments = models
    frames = [dimer(3.5), dimer(5.0, charges=(0.0, 0.0)), dimer(4.0)]
    frames[2].arrays["fragment"] = np.arange(len(frames[2])) % 3  # three fragments
    frames[2].info["fragment_charges"] = [1.0, 0.5, -0.5]
    singles = [fragments(atoms_to_graph(a, CONFIG["species"], CONFIG["cutoff"])) for a in frames]
    batched = fragments(atoms_to_graph(frames, CONFIG["species"], CONFIG["cutoff"]))
    dataset = Dataset(path="-", frames=frames, labels=[{}] * 3)
    dataset.build_graphs(CONFIG["species"], CONFIG["cutoff"], torch.float64)
    collated = dataset.collate([0, 1, 2])
    assert collated["num_fragments"].tolist() == [2, 2, 3]
    for out in (batched, fragments(collated)):
        for key in ("energy", "charges"):
            expected = torch.cat([s[key] for s in singles])
            torch.testing.assert_close(out[key], expected, rtol=0, atol=1e-10)
    charges = batched["charges"][len(frames[0]) + len(frames[1]):]
    fragment = torch.as_tensor(frames[2].arrays["fragment"])
    sums = torch.zeros(3, dtype=charges.dtype).index_add_(0, fragment, charges)
    torch.testing.assert_close(sums, torch.tensor([1.0, 0.5, -0.5], dtype=charges.dtype), rtol=0, atol=1e-10)


def test_graph_fragment_fields_and_their_errors():
    atoms = dimer(4.0)
    del atoms.info["charge"]
    graph = atoms_to_graph(atoms, CONFIG["species"], CONFIG["cutoff"])
    assert graph["total_charge"].tolist() == [1.0]  # the sum of the fragment charges
    assert graph["num_fragments"].tolist() == [2] and graph["fragment_charges"].tolist() == [1.0, 0.0]
    mixed = atoms_to_graph([atoms, molecule("H2O")], CONFIG["species"], CONFIG["cutoff"])
    assert "fragment" not in mixed  # only when every structure has them
    cases = [
        (lambda a: a.arrays.pop("fragment"), "atoms.arrays\\['fragment'\\]"),
        (lambda a: a.info.update(fragment_charges=[1.0, 0.0, 0.0]),
         "fragment\\(s\\) \\[2\\] have a charge but no atoms"),
        (lambda a: a.arrays.update(fragment=a.arrays["fragment"] + 0.5), "one integer per atom"),
        (lambda a: a.info.update(fragment_charges=[1.0]), "indices 0 … 0"),
        (lambda a: a.info.update(charge=2.0), "add up to 1 e, but atoms.info\\['charge'\\] = 2 e"),
    ]
    for change, message in cases:
        broken = dimer(4.0)
        change(broken)
        with pytest.raises(InputError, match=message):
            atoms_to_graph(broken, CONFIG["species"], CONFIG["cutoff"])


def hydroxide_and_water(charge_a, charge_b):
    """OH⁻ (atoms 0–1) then H2O (atoms 2–4), labelled like the dimers: chargeA, chargeB, indexB."""
    atoms = Atoms("OHOHH", positions=[[0, 0, 0], [0.97, 0, 0], [3.0, 0, 0], [3.6, 0.8, 0], [3.6, -0.8, 0]])
    atoms.info.update(chargeA=charge_a, chargeB=charge_b, indexB=2)
    return atoms


def test_fragments_from_data_keys():
    """The dimers' keys give the fragments; charges listed for the wrong molecule are caught, and
    ``closed_shell`` gives them to the molecules they fit (an even number of electrons)."""
    right = hydroxide_and_water(-1, 0)
    assert assign_fragments([right], "indexB", ["chargeA", "chargeB"]) == []
    assert right.arrays["fragment"].tolist() == [0, 0, 1, 1, 1]
    assert right.info["fragment_charges"] == [-1.0, 0.0]
    swapped = hydroxide_and_water(0, -1)
    with pytest.raises(InputError, match="odd number of electrons.*fragment_charge_order: closed_shell"):
        assign_fragments([swapped], "indexB", ["chargeA", "chargeB"])
    assert assign_fragments([swapped], "indexB", ["chargeA", "chargeB"], order="closed_shell") == [0]
    assert swapped.info["fragment_charges"] == [-1.0, 0.0]
    radical = hydroxide_and_water(0, 0)  # no order makes OH closed-shell: kept as listed
    assert assign_fragments([radical], "indexB", ["chargeA", "chargeB"]) == []
    with pytest.raises(InputError, match="no order"):
        assign_fragments([hydroxide_and_water(0, 0)], "indexB", ["chargeA", "chargeB"], order="closed_shell")
    with pytest.raises(InputError, match="lacks the fragment-charge key"):
        assign_fragments([right], "indexB", ["chargeA", "chargeC"])


def test_training_config_needs_fragment_charge_keys():
    config = {"model": {**CONFIG, "charge_constraint": "fragments"},
              "data": {"path": "x.xyz", "fragment_key": "indexB"}}
    with pytest.raises(ConfigError, match="fragment_charge_keys"):
        resolve_training_config(config)
    config["data"]["fragment_charge_keys"] = ("chargeA", "chargeB")
    resolved = resolve_training_config(config)
    assert resolved["data"]["fragment_charge_keys"] == ["chargeA", "chargeB"]
    assert resolved["model"]["charge_constraint"] == "fragments"
    with pytest.raises(ConfigError, match="charge_constraint"):
        lrcalc.build_model({**CONFIG, "charge_constraint": "molecules"})


DIMERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cace-lr-fit" / "charged_dimers"


@pytest.mark.skipif(not DIMERS.is_dir(), reason="the cace-lr-fit dimers are not in ../shared/data")
def test_the_dimers_fragments():
    """The dimers' molecule A is atoms 0 … indexB−1 with chargeA, B the rest with chargeB, except in
    the CP file, whose chargeA (−1) labels the acetate that comes second: as listed, that is an
    error; ``closed_shell`` moves the −1 onto the acetate in its 10 frames and changes nothing else."""
    config = {"total_charge_key": ["chargeA", "chargeB"], "fragment_key": "indexB",
              "fragment_charge_keys": ["chargeA", "chargeB"]}
    with pytest.raises(InputError, match="frame 30: .*odd number of electrons"):
        read_dataset(DIMERS / "train-*.xyz", config)
    with pytest.warns(UserWarning, match="10 frame"):
        dataset = read_dataset(DIMERS / "train-*.xyz", {**config, "fragment_charge_order": "closed_shell"})
    for atoms in dataset.frames:
        listed = [float(atoms.info["chargeA"]), float(atoms.info["chargeB"])]
        expected = listed[::-1] if atoms.info["label"] == "CP" else listed
        assert atoms.info["fragment_charges"] == expected
        assert (atoms.arrays["fragment"] == (np.arange(len(atoms)) >= atoms.info["indexB"])).all()
    acetate = [a for a in dataset.frames if a.info["label"] == "CP"][0]
    assert acetate[acetate.info["indexB"]:].get_chemical_formula() == "C2H3O2"


def test_calculator_takes_the_total_charge_from_the_fragment_charges():
    """Only atoms.info["fragment_charges"] given: the total charge is their sum, not 0."""
    import warnings

    cation = molecule("NH3")
    cation.append("H")
    cation.positions[-1] = [0.0, 0.0, -1.0]
    apolar = molecule("CH4")
    apolar.translate([0.0, 0.0, 6.0])
    dimer = cation + apolar
    dimer.arrays["fragment"] = np.array([0] * 5 + [1] * 5)
    dimer.info["fragment_charges"] = [1.0, 0.0]
    dimer.calc = LRCalculator("dimers_qeq_fragments.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        charges = dimer.get_charges()
    assert charges[:5].sum() == pytest.approx(1.0, abs=1e-9)
    assert charges[5:].sum() == pytest.approx(0.0, abs=1e-9)
