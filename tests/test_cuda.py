"""CUDA runs the same physics as the CPU: every model kind, every boundary condition, and training.

Skipped without a GPU; ``benchmarks/gpu_check.sh`` runs these (and the speed tables) on a lent GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

import lrcalc
from model_fixtures import SMALL_CONFIG, randomise_output_layers
from structures import make_slab

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
DEVICE = "cuda"

KINDS = {
    "none": {},
    "qeq": {"long_range": "qeq", "coulomb_accuracy": 1e-8},
    "lorem": {"long_range": "lorem", "lorem_coulomb": True, "coulomb_accuracy": 1e-8},
}


def _structures():
    cell = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    cell.rattle(0.05, seed=0)
    water = molecule("H2O")
    water.center(vacuum=4.0)
    return {"molecule": water, "slab": make_slab(), "bulk": cell}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", ["molecule", "slab", "bulk"])
def test_cuda_equals_cpu(kind, name):
    model = randomise_output_layers(lrcalc.build_model({**SMALL_CONFIG, **KINDS[kind]}))
    atoms = _structures()[name]
    results = {}
    for device in ("cpu", "cuda"):
        atoms.calc = lrcalc.LRCalculator(model, device=device)
        results[device] = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
        if atoms.pbc.all():
            results[device]["stress"] = atoms.get_stress()
    for key, value in results["cpu"].items():
        np.testing.assert_allclose(results["cuda"][key], value, rtol=1e-7, atol=1e-7, err_msg=key)


def test_a_float32_model_on_cuda_agrees_to_float32_precision():
    model = lrcalc.load_model("bta_cu.pt")
    atoms = lrcalc.structures.bta_on_cu111()
    energies, forces = [], []
    for device in ("cpu", "cuda"):
        atoms.calc = lrcalc.LRCalculator(model, device=device)
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
    assert abs(energies[1] - energies[0]) < 1e-3
    np.testing.assert_allclose(forces[1], forces[0], atol=1e-3)


def test_training_runs_on_cuda(tmp_path):
    """Two epochs of the Qeq model on a few Cu-BTA-like frames, on the GPU, end to end."""
    from ase.io import write

    from lrcalc.training import train

    frames = []
    for k in range(6):
        atoms = make_slab()
        atoms.rattle(0.05, seed=k)
        atoms.info["energy"] = float(k)
        atoms.arrays["forces"] = np.zeros((len(atoms), 3))
        frames.append(atoms)
    write(tmp_path / "data.extxyz", frames)
    config = {
        "model": {**SMALL_CONFIG, "long_range": "qeq", "dtype": "float32"},
        "data": {"path": str(tmp_path / "data.extxyz"), "split_fractions": [0.5, 0.25, 0.25]},
        "training": {"max_epochs": 2, "batch_size": 2, "device": "cuda"},
        "output": {"directory": str(tmp_path / "run")},
    }
    summary = train(config, device=DEVICE, progress=False, log=None)
    assert summary["completed"]
    atoms = frames[0].copy()
    atoms.calc = lrcalc.LRCalculator(summary["best_model"], device=DEVICE)
    assert np.isfinite(atoms.get_potential_energy())
