"""Shared fixtures: a small float64 model and the structures the physics tests use."""

from __future__ import annotations

import pytest

import lrcalc
from structures import make_molecule, make_slab, make_triclinic_crystal

SMALL_CONFIG = {
    "species": ["H", "C", "N", "O", "Cu"],
    "cutoff": 4.0,
    "long_range": "none",
    "num_layers": 2,
    "l_max": 2,
    "num_features": 8,
    "dtype": "float64",
    "parity": True,
    "avg_num_neighbors": 10.0,
    "seed": 1,
}


def randomise_output_layers(model, seed=0):
    """Freshly initialised e3nn models have some output weights that make energies nearly
    species-independent; give every parameter a random value so that tests see a generic function."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return model


@pytest.fixture(scope="session")
def small_model():
    return randomise_output_layers(lrcalc.build_model(SMALL_CONFIG))


@pytest.fixture(params=["molecule", "triclinic", "slab"])
def structure(request) -> Atoms:
    return {"molecule": make_molecule, "triclinic": make_triclinic_crystal, "slab": make_slab}[request.param]()
