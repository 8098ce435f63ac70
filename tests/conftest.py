"""Shared fixtures: a small float64 model and the structures the physics tests use."""

from __future__ import annotations

import pytest
from ase import Atoms

import lrcalc
from lrcalc.allocator import tune_allocator
from model_fixtures import SMALL_CONFIG, randomise_output_layers
from structures import make_molecule, make_slab, make_triclinic_crystal

# The suite runs many autograd evaluations: keep freed memory as the CLI does (lrcalc.allocator), so
# that `python -m pytest -q tests` needs no environment variables to run at CI's speed.
tune_allocator()


@pytest.fixture(scope="session")
def small_model():
    return randomise_output_layers(lrcalc.build_model(SMALL_CONFIG))


@pytest.fixture(params=["molecule", "triclinic", "slab"])
def structure(request) -> Atoms:
    return {"molecule": make_molecule, "triclinic": make_triclinic_crystal, "slab": make_slab}[request.param]()
