"""The shared Cu-BTA data set (../shared/data/cu_bta): labels, its fixed split file and the training
statistics. Skipped where the shared data is absent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from structures import SHARED_DATA

import lrcalc
from lrcalc.training.config import DEFAULTS
from lrcalc.training.data import average_num_neighbors, energy_shifts, force_rms, make_split, read_dataset
from lrcalc.training.evaluate import evaluate

CU_BTA = SHARED_DATA / "cu_bta"
pytestmark = pytest.mark.skipif(
    not (CU_BTA / "cu_bta.extxyz").is_file(),
    reason=f"shared data {CU_BTA} is absent (see ../shared/data/README.md)",
)


@pytest.fixture(scope="module")
def data_config():
    config = dict(
        DEFAULTS["data"],
        path=str(CU_BTA / "cu_bta.extxyz"),
        split_file=str(CU_BTA / "split.json"),
        charges_key="initial_charges",
        total_charge_key="total_charge",
    )
    return config


@pytest.fixture(scope="module")
def dataset(data_config):
    return read_dataset(data_config["path"], data_config)


def test_labels_and_index_file_split(dataset, data_config):
    assert len(dataset) == 340
    for name in ("energy", "forces", "charges"):
        assert dataset.available(name), name
    assert not dataset.available("stress")
    split = make_split(dataset, data_config)
    assert split == json.loads((CU_BTA / "split.json").read_text())
    assert [len(split[s]) for s in ("train", "val", "test")] == [272, 34, 34]


def test_training_statistics(dataset, data_config):
    species = ["H", "C", "N", "Cu"]
    train = make_split(dataset, data_config)["train"]
    shifts = energy_shifts(dataset, train, species)
    energies = np.array([dataset.labels[k]["energy"] for k in train])
    # Every frame has the same composition: the shifts reproduce the mean energy exactly and, being
    # undetermined per species, are all the mean energy per atom.
    np.testing.assert_allclose(shifts, energies.mean() / 46, rtol=1e-12)
    assert 0.4 < force_rms(dataset, train) < 0.7  # SOURCE.md: force standard deviation 0.52 eV/Å
    dataset.build_graphs(species, 4.0, lrcalc.build_model({"species": species, "cutoff": 4.0}).dtype)
    assert 5 < average_num_neighbors(dataset, train) < 40


def test_evaluate_on_the_test_set(tmp_path):
    model = lrcalc.build_model(
        {
            "species": ["H", "C", "N", "Cu"],
            "cutoff": 4.0,
            "num_layers": 1,
            "l_max": 0,
            "num_features": 4,
            "dtype": "float32",
        }
    )
    result = evaluate(
        model,
        CU_BTA / "cu_bta.extxyz",
        subset=f"{CU_BTA / 'split.json'}:test",
        keys={"charges_key": "initial_charges", "total_charge_key": "total_charge"},
    )
    assert result["num_frames"] == 34 and result["num_atoms"] == 34 * 46
    assert set(result["metrics"]) == {"energy", "forces"}  # the model predicts no charges
