"""The fused edge convolution against e3nn's TensorProduct (the reference it replaces)."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3

import lrcalc
from lrcalc.nn.convolution import ChannelwiseConvolution, channelwise_convolution
from lrcalc.nn.interaction import Interaction, hidden_irreps
from lrcalc.nn.readout import ScalarReadout


def _layer(l_max, parity, first):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn's own constants in float64 too
    try:
        return _build_layer(l_max, parity, first)
    finally:
        torch.set_default_dtype(previous)


def _build_layer(l_max, parity, first):
    irreps_in = o3.Irreps("6x0e") if first else hidden_irreps(6, l_max, parity)
    layer = Interaction(irreps_in, hidden_irreps(6, l_max, parity), o3.Irreps.spherical_harmonics(l_max),
                        num_species=2, num_radial_basis=8, radial_mlp_hidden=16, radial_mlp_layers=1,
                        avg_num_neighbors=5.0).double()
    return layer, irreps_in


def _edges(l_max, num_nodes=9, num_edges=50, seed=0):
    generator = torch.Generator().manual_seed(seed)
    vectors = torch.randn(num_edges, 3, dtype=torch.float64, generator=generator).requires_grad_()
    sh = o3.spherical_harmonics(o3.Irreps.spherical_harmonics(l_max), vectors, True, normalization="component")
    center = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    neighbor = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    return vectors, sh, center, neighbor


@pytest.mark.parametrize("l_max", [0, 1, 2])
@pytest.mark.parametrize("parity", [True, False])
@pytest.mark.parametrize("first", [True, False])
def test_equals_the_e3nn_tensor_product_and_its_gradients(l_max, parity, first):
    layer, irreps_in = _layer(l_max, parity, first)
    tp = layer.tensor_product
    convolution = ChannelwiseConvolution(tp).double()
    vectors, sh, center, neighbor = _edges(l_max)
    x = torch.randn(9, irreps_in.dim, dtype=torch.float64, requires_grad=True)
    w = torch.randn(sh.shape[0], tp.weight_numel, dtype=torch.float64, requires_grad=True)
    reference = torch.zeros(9, tp.irreps_out.dim, dtype=torch.float64).index_add_(0, center, tp(x[neighbor], sh, w))
    ours = convolution(x, sh, w[:, convolution.weight_order], center, neighbor)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
    probe = torch.randn_like(reference)
    inputs = [x, w, vectors] if l_max > 0 else [x, w]
    expected = torch.autograd.grad((reference * probe).sum(), inputs, retain_graph=True)
    got = torch.autograd.grad((ours * probe).sum(), inputs)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


def test_the_scalar_variant_gives_the_scalar_paths_and_zeros_elsewhere():
    layer, irreps_in = _layer(2, True, False)
    tp = layer.tensor_product
    full = ChannelwiseConvolution(tp).double()
    scalars = ChannelwiseConvolution(tp, wanted={o3.Irrep("0e")}).double()
    _, sh, center, neighbor = _edges(2)
    x = torch.randn(9, irreps_in.dim, dtype=torch.float64)
    w = torch.randn(sh.shape[0], tp.weight_numel, dtype=torch.float64)
    a, b = full(x, sh, w[:, full.weight_order], center, neighbor), scalars(x, sh, w[:, scalars.weight_order], center, neighbor)
    is_scalar = torch.cat([torch.full((mul * ir.dim,), ir == o3.Irrep("0e")) for mul, ir in tp.irreps_out])
    torch.testing.assert_close(b[:, is_scalar], a[:, is_scalar], rtol=0, atol=1e-12)
    assert (b[:, ~is_scalar] == 0).all()


def test_the_folded_radial_mlp_equals_e3nns():
    layer, _ = _layer(1, True, False)
    radial = torch.rand(30, 8, dtype=torch.float64)
    reference = layer.radial_mlp(radial)
    columns = torch.randperm(reference.shape[1])
    torch.testing.assert_close(layer.radial_weights(radial, columns), reference[:, columns], rtol=0, atol=1e-13)


def test_unequal_multiplicities_fall_back_to_e3nn():
    tp = o3.TensorProduct("4x0e+2x1o", "1x0e+1x1o", "4x0e+2x1o", [(0, 0, 0, "uvu", True), (1, 0, 1, "uvu", True)],
                          shared_weights=False, internal_weights=False)
    assert channelwise_convolution(tp) is None


@pytest.mark.parametrize("long_range", ["none", "qeq"])
def test_a_model_gives_the_same_results_with_e3nn_and_with_the_fused_convolution(long_range, tmp_path):
    """The reference path (e3nn, every output computed) against the default one (fused convolution,
    blockwise linear maps and gate, the last layer computing only what the head reads): energies, forces and stress agree to float64 rounding."""
    from ase.build import molecule

    model = lrcalc.build_model({"species": ["C", "H", "O"], "cutoff": 4.0, "long_range": long_range,
                                "num_features": 8, "dtype": "float64"})
    atoms = molecule("CH3CH2OH")
    atoms.center(vacuum=3.0)
    atoms.pbc = True
    graph = lrcalc.atoms_to_graph(atoms, model.species, model.cutoff)
    fast = model(graph, compute_stress=True)
    for layer in model.modules():
        if isinstance(layer, Interaction):
            layer.fast = False  # e3nn throughout
            layer.scalars_only = False
        if isinstance(layer, ScalarReadout):
            layer.fast = False
    reference = model(graph, compute_stress=True)
    for key in ("energy", "forces", "stress"):
        torch.testing.assert_close(fast[key], reference[key], rtol=0, atol=1e-10)


@pytest.mark.parametrize("l_max", [0, 1, 2])
@pytest.mark.parametrize("parity", [True, False])
def test_a_scalars_only_layer_gives_the_scalars_of_the_full_layer(l_max, parity):
    layer, irreps_in = _layer(l_max, parity, first=False)
    assert layer.scalar_block is not None
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(9, irreps_in.dim, dtype=torch.float64, generator=generator)
    onehot = torch.nn.functional.one_hot(torch.randint(0, 2, (9,), generator=generator), 2).double()
    vectors, sh, center, neighbor = _edges(l_max)
    radial = torch.rand(sh.shape[0], 8, dtype=torch.float64, generator=generator)
    edges = torch.stack([center, neighbor])
    full = layer(x, onehot, edges, sh, radial)
    layer.scalars_only = True
    scalars = layer(x, onehot, edges, sh, radial)
    torch.testing.assert_close(scalars, full * layer.scalar_mask, rtol=0, atol=1e-12)


@pytest.mark.parametrize("l_max", [0, 1, 2])
@pytest.mark.parametrize("parity", [True, False])
@pytest.mark.parametrize("first", [True, False])
def test_blockwise_linear_maps_and_gate_equal_e3nn(l_max, parity, first):
    from lrcalc.nn.blockwise import BlockwiseLinear, FastGate

    layer, irreps_in = _layer(l_max, parity, first)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(9, irreps_in.dim, dtype=torch.float64, generator=generator, requires_grad=True)
    onehot = torch.nn.functional.one_hot(torch.randint(0, 2, (9,), generator=generator), 2).double()
    mid = torch.randn(9, layer.linear_out.irreps_in.dim, dtype=torch.float64, generator=generator)
    gate_in = torch.randn(9, layer.gate.irreps_in.dim, dtype=torch.float64, generator=generator)
    pairs = [
        (BlockwiseLinear(layer.linear_in).double()(layer.linear_in, x), layer.linear_in(x)),
        (BlockwiseLinear(layer.linear_out).double()(layer.linear_out, mid), layer.linear_out(mid)),
        (BlockwiseLinear(layer.self_connection).double()(layer.self_connection, x, onehot),
         layer.self_connection(x, onehot)),
        (FastGate(layer.gate)(layer.gate, gate_in), layer.gate(gate_in)),
    ]
    for ours, reference in pairs:
        torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
    weights = [layer.linear_in.weight, layer.self_connection.weight]
    probe = torch.randn_like(pairs[0][1])
    got = torch.autograd.grad((pairs[0][0] * probe).sum() + (pairs[2][0] ** 2).sum(), [x] + weights)
    expected = torch.autograd.grad((pairs[0][1] * probe).sum() + (pairs[2][1] ** 2).sum(), [x] + weights)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


@pytest.mark.parametrize("irreps", ["8x0e+4x1o+4x1e", "4x1o+8x0e", "8x0e+4x1o+8x0o+2x2e"])
def test_the_scalar_readout_matches_e3nn(irreps):
    """Two plain matmuls on e3nn's weights against e3nn's linear maps: values and gradients."""
    readout = ScalarReadout(o3.Irreps(irreps), 6).double()
    assert readout._paths is not None
    x = torch.randn(7, o3.Irreps(irreps).dim, dtype=torch.float64, requires_grad=True)
    results = []
    for fast in (True, False):
        readout.fast = fast
        y = readout(x)
        grads = torch.autograd.grad((y * torch.arange(7.0, dtype=torch.float64)).sum(), [x] + list(readout.parameters()))
        results.append((y.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-13)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)

