"""Layer-level checks: every interaction block is equivariant (e3nn's generic test), and the
radial embedding vanishes smoothly at the cutoff."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant

import lrcalc
from lrcalc.nn.radial import PolynomialEnvelope, RadialEmbedding

from model_fixtures import SMALL_CONFIG, randomise_output_layers
from structures import make_molecule, make_slab
from lrcalc import LRCalculator


@pytest.fixture
def float64_default():
    """e3nn's generic test draws its rotation matrices in torch's default dtype: make that float64
    for this test only (lrcalc itself never changes the default)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("parity", [True, False])
@pytest.mark.parametrize("l_max", [0, 1, 2])
def test_interaction_blocks_are_equivariant(parity, l_max, float64_default):
    model = lrcalc.build_model({**SMALL_CONFIG, "parity": parity, "l_max": l_max})
    num_species = len(model.species)
    for layer in model.local.layers:
        num_edges, num_atoms = 7, 4
        edge_index = torch.randint(0, num_atoms, (2, num_edges), generator=torch.Generator().manual_seed(0))

        def block(features, onehot, sh, radial, layer=layer):
            return layer(features, onehot, edge_index, sh, radial)

        assert_equivariant(
            block,
            irreps_in=[layer.irreps_in, o3.Irreps(f"{num_species}x0e"), model.local.environment.irreps_sh, None],
            irreps_out=[layer.irreps_out],
            args_in=[
                layer.irreps_in.randn(num_atoms, -1, dtype=torch.float64),
                torch.nn.functional.one_hot(torch.tensor([0, 1, 4, 2]), num_species).double(),
                model.local.environment.irreps_sh.randn(num_edges, -1, dtype=torch.float64),
                torch.randn(num_edges, SMALL_CONFIG.get("num_radial_basis", 8), dtype=torch.float64),
            ],
            tolerance=1e-9,
        )


@pytest.mark.parametrize("parity", [True, False])
@pytest.mark.parametrize("l_max", [0, 1])
def test_whole_model_reflection_invariant_for_every_feature_choice(parity, l_max):
    model = randomise_output_layers(lrcalc.build_model({**SMALL_CONFIG, "parity": parity, "l_max": l_max}))
    atoms = make_slab()
    mirrored = atoms.copy()
    mirrored.positions[:, 0] *= -1
    mirrored.cell = atoms.cell[:] * [-1, 1, 1]
    energies = []
    for a in (atoms, mirrored):
        a.calc = LRCalculator(model)
        energies.append(a.get_potential_energy())
    assert abs(energies[0] - energies[1]) <= 1e-10 * abs(energies[0])


def test_envelope_and_its_derivatives_vanish_at_the_cutoff():
    cutoff = 4.0
    r = torch.tensor([cutoff], dtype=torch.float64, requires_grad=True)
    u = PolynomialEnvelope(cutoff)(r).sum()
    (du,) = torch.autograd.grad(u, r, create_graph=True)
    (d2u,) = torch.autograd.grad(du, r)
    assert abs(u.item()) < 1e-12 and abs(du.item()) < 1e-12 and abs(d2u.item()) < 1e-10
    assert float(PolynomialEnvelope(cutoff)(torch.tensor([0.0], dtype=torch.float64))) == 1.0


def test_energy_is_continuous_as_an_atom_leaves_the_cutoff():
    """Two atoms pulled apart through the cutoff: no step in the energy."""
    model = randomise_output_layers(lrcalc.build_model(SMALL_CONFIG))
    from ase import Atoms

    cutoff = SMALL_CONFIG["cutoff"]
    energies = []
    for d in (cutoff - 1e-6, cutoff + 1e-6):
        dimer = Atoms("CO", positions=[[0, 0, 0], [d, 0, 0]])
        dimer.calc = LRCalculator(model)
        energies.append(dimer.get_potential_energy())
    assert abs(energies[0] - energies[1]) < 1e-9


def test_radial_embedding_shape_and_zero_beyond_cutoff():
    embedding = RadialEmbedding(cutoff=3.0, num_basis=5).double()
    values = embedding(torch.tensor([0.5, 2.9, 3.0, 3.5], dtype=torch.float64))
    assert values.shape == (4, 5)
    assert torch.all(values[2:] == 0)
    assert torch.all(values[0].abs() > 0)
