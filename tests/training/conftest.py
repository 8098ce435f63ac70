"""Fixtures of the training tests: a tiny labelled data set made here (EMT energies, forces and
stress of rattled Cu/Ni cells, made-up reference charges) and a tiny training config."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write


def make_frames(num_frames: int, seed: int = 0):
    """Four-atom fcc cells (Cu, one Ni in odd frames), rattled, with EMT labels, per-atom ``ref_q``
    charges and ``total_charge`` in ``atoms.info``."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(num_frames):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        if k % 2:
            atoms[0].symbol = "Ni"
        atoms.rattle(0.08, seed=seed * 1000 + k)
        atoms.calc = EMT()
        labels = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **labels)
        atoms.arrays["ref_q"] = rng.normal(scale=0.1, size=len(atoms))
        atoms.info["total_charge"] = 0.0
        frames.append(atoms)
    return frames


@pytest.fixture(scope="session")
def emt_data(tmp_path_factory):
    """Path of a 12-frame extxyz file."""
    path = tmp_path_factory.mktemp("data") / "emt.extxyz"
    write(path, make_frames(12))
    return path


TINY_CONFIG = {
    "model": {
        "species": ["Cu", "Ni"],
        "cutoff": 3.0,
        "num_layers": 1,
        "l_max": 0,
        "num_features": 4,
        "radial_mlp_hidden": 8,
        "radial_mlp_layers": 1,
        "dtype": "float64",
        "seed": 3,
    },
    "data": {
        "path": None,
        "split_fractions": [0.5, 0.25, 0.25],
        "split_seed": 1,
        "total_charge_key": "total_charge",
    },
    "training": {
        "max_epochs": 6,
        "batch_size": 2,
        "learning_rate": 0.01,
        "num_threads": 1,
        "ema_decay": 0.9,
        "lr_schedule": "plateau",
        "lr_plateau_patience": 1,
    },
    "output": {"directory": None, "progress_bar": False, "plot": False},
}


@pytest.fixture
def tiny_config(emt_data, tmp_path):
    """A fresh copy of the tiny config, reading ``emt_data`` and writing to ``tmp_path / "run"``."""
    config = copy.deepcopy(TINY_CONFIG)
    config["data"]["path"] = str(emt_data)
    config["output"]["directory"] = str(tmp_path / "run")
    return config
