"""Labels from extxyz: stress as Voigt or 3×3 or from the virial, charges and total charge by key;
batches of cached graphs equal the graph of the same frames built at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.io import write

import lrcalc
from lrcalc.training.config import DEFAULTS
from lrcalc.training.data import frame_labels, random_split, read_dataset


def test_stress_from_voigt_matrix_or_virial():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    stress = np.array([[1.0, 0.4, 0.5], [0.4, 2.0, 0.6], [0.5, 0.6, 3.0]]) * 1e-2
    voigt = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    keys = dict(DEFAULTS["data"])
    atoms.info["stress"] = voigt
    np.testing.assert_allclose(frame_labels(atoms, keys)["stress"], stress)
    atoms.info["stress"] = stress.reshape(-1)
    np.testing.assert_allclose(frame_labels(atoms, keys)["stress"], stress)
    del atoms.info["stress"]
    atoms.info["virial"] = -stress * atoms.get_volume()
    np.testing.assert_allclose(frame_labels(atoms, keys)["stress"], stress)
    assert "energy" not in frame_labels(atoms, keys)


def test_charges_and_total_charge_keys(tmp_path):
    frames = []
    for k in range(3):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.rattle(0.05, seed=k)
        atoms.info["energy"] = -1.0 - k
        atoms.info["total_charge"] = float(k - 1)
        atoms.set_initial_charges(np.full(4, 0.25 * (k - 1)))
        frames.append(atoms)
    write(tmp_path / "d.extxyz", frames)
    config = dict(DEFAULTS["data"], charges_key="initial_charges", total_charge_key="total_charge")
    dataset = read_dataset(tmp_path / "d.extxyz", config)
    assert dataset.available("energy") and dataset.available("charges") and not dataset.available("forces")
    dataset.build_graphs(["Cu"], 3.0, torch.float64)
    batch = dataset.collate([2, 0])
    torch.testing.assert_close(batch["total_charge"], torch.tensor([1.0, -1.0], dtype=torch.float64))
    torch.testing.assert_close(
        batch["ref_charges"], torch.tensor([0.25] * 4 + [-0.25] * 4, dtype=torch.float64)
    )
    torch.testing.assert_close(batch["ref_energy"], torch.tensor([-3.0, -1.0], dtype=torch.float64))
    # The cached graphs, concatenated, are the graph atoms_to_graph builds for the batch at once.
    direct = lrcalc.atoms_to_graph(
        [dataset.frames[2], dataset.frames[0]], ["Cu"], 3.0, charge_key="total_charge"
    )
    for key, value in direct.items():
        assert torch.equal(batch[key], value), key


def test_several_files_and_summed_total_charge(tmp_path):
    """``data.path`` may be a glob pattern (files in sorted order) and ``total_charge_key`` a list
    of info keys that are added up (the dimers' chargeA + chargeB)."""
    for name, (charge_a, charge_b) in {"b.xyz": (0, -1), "a.xyz": (1, -1), "c.xyz": (1, 1)}.items():
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.info.update(energy=-1.0, chargeA=charge_a, chargeB=charge_b, tag=name)
        write(tmp_path / name, [atoms, atoms])
    for key in (["chargeA", "chargeB"], "chargeA+chargeB"):
        config = dict(DEFAULTS["data"], total_charge_key=key)
        dataset = read_dataset(str(tmp_path / "*.xyz"), config)
        assert [atoms.info["tag"] for atoms in dataset.frames] == ["a.xyz"] * 2 + ["b.xyz"] * 2 + ["c.xyz"] * 2
        dataset.build_graphs(["Cu"], 3.0, torch.float64)
        batch = dataset.collate(list(range(6)))
        torch.testing.assert_close(batch["total_charge"], torch.tensor([0.0, 0, -1, -1, 2, 2], dtype=torch.float64))
    # the data digest changes when one of the files does
    before = dataset.sha256
    changed = bulk("Cu", "fcc", a=3.7, cubic=True)
    changed.info.update(energy=-1.0, chargeA=0, chargeB=0)
    write(tmp_path / "b.xyz", [changed])
    assert read_dataset(str(tmp_path / "*.xyz"), config).sha256 != before
    with pytest.raises(lrcalc.InputError, match="no data file matches"):
        read_dataset(str(tmp_path / "*.none"), config)
    with pytest.raises(lrcalc.InputError, match="lacks the total-charge key"):
        read_dataset(str(tmp_path / "*.xyz"), dict(config, total_charge_key=["chargeA", "chargeC"]))


def test_random_split_is_reproducible_and_disjoint():
    a, b = random_split(50, [0.6, 0.2, 0.2], seed=4), random_split(50, [0.6, 0.2, 0.2], seed=4)
    assert a == b and [len(a[s]) for s in ("train", "val", "test")] == [30, 10, 10]
    assert sorted(a["train"] + a["val"] + a["test"]) == list(range(50))
    assert random_split(50, [0.6, 0.2, 0.2], seed=5) != a
    assert random_split(10, [0.8, 0.2, 0.0], seed=0)["test"] == []
    with pytest.raises(ValueError, match="test set"):
        random_split(3, [0.5, 0.4, 0.1], seed=0)
