"""The Coulomb operator as a dense matrix (the direct Qeq solve's operator) against the operator
applied column by column: values, and gradients with respect to positions, cell and widths."""

import dataclasses

import pytest
import torch

from lrcalc.electrostatics import CoulombOperator
from lrcalc.electrostatics.cell import cell_volume

from es_helpers import DTYPE

GEOMETRIES = [
    ((False, False, False), "direct"),
    ((True, True, True), "ewald"),
    ((True, True, True), "pme"),
    ((True, True, True), "p3m"),
    ((True, True, False), "ewald"),
    ((True, True, False), "pme"),
    ((True, False, True), "ewald"),
]


def system(pbc, n=14, seed=0):
    g = torch.Generator().manual_seed(seed)
    cell = torch.diag(torch.tensor([7.5, 8.0, 9.0], dtype=DTYPE)) + 0.4 * torch.rand(3, 3, generator=g, dtype=DTYPE)
    positions = torch.rand(n, 3, generator=g, dtype=DTYPE) @ cell
    sigma = 0.5 + torch.rand(n, generator=g, dtype=DTYPE)
    return positions, (cell if any(pbc) else None), sigma


def columns(operator, n):
    return operator(torch.eye(n, dtype=DTYPE))


@pytest.mark.parametrize("pbc, method", GEOMETRIES)
@pytest.mark.parametrize("accuracy", [1e-4, 1e-8])
def test_matrix_equals_the_operator_column_by_column(pbc, method, accuracy):
    positions, cell, sigma = system(pbc)
    operator = CoulombOperator(positions, cell, pbc, sigma, method, accuracy)
    matrix = operator.matrix()
    reference = columns(operator, len(positions))
    assert matrix.shape == (len(positions), len(positions))
    assert torch.allclose(matrix, reference, rtol=0, atol=1e-12)
    assert torch.allclose(matrix, matrix.T, rtol=0, atol=1e-12 if method in ("direct", "ewald") else 1e-10)


def test_matrix_of_a_slab_with_the_layer_correction():
    pbc = (True, True, False)
    positions, cell, sigma = system(pbc)
    operator = CoulombOperator(positions, cell, pbc, sigma, "ewald", 1e-6)
    parameters = dataclasses.replace(operator.parameters, layer_k_max=3.0)
    operator = CoulombOperator(positions, cell, pbc, sigma, parameters=parameters)
    assert operator.slab.layer is not None and operator.slab.layer.num_modes > 10
    assert torch.allclose(operator.matrix(), columns(operator, len(positions)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("pbc, method", [g for g in GEOMETRIES if g[1] in ("direct", "ewald")])
def test_matrix_gradients_equal_the_operators(pbc, method):
    """q·A(θ)·w through the matrix and through the operator: the same derivatives in the positions,
    the cell (stress) and the widths."""
    positions, cell, sigma = system(pbc, seed=1)
    g = torch.Generator().manual_seed(2)
    q = torch.randn(len(positions), generator=g, dtype=DTYPE)
    w = torch.randn(len(positions), generator=g, dtype=DTYPE)
    grads = []
    for use_matrix in (True, False):
        inputs = [positions.clone().requires_grad_(), sigma.clone().requires_grad_()]
        if cell is not None:
            inputs.append(cell.clone().requires_grad_())
        operator = CoulombOperator(inputs[0], inputs[2] if cell is not None else None, pbc, inputs[1], method, 1e-8)
        phi = operator.matrix() @ q if use_matrix else operator(q)
        grads.append(torch.autograd.grad((w * phi).sum(), inputs))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_cell_volume_is_the_determinant_with_its_gradient():
    g = torch.Generator().manual_seed(3)
    cell = (torch.eye(3, dtype=DTYPE) * 5 + torch.rand(3, 3, generator=g, dtype=DTYPE)).requires_grad_()
    volume = cell_volume(cell)
    reference = torch.abs(torch.linalg.det(cell))
    assert torch.allclose(volume, reference, rtol=1e-14)
    (grad,) = torch.autograd.grad(volume, cell)
    (grad_reference,) = torch.autograd.grad(reference, cell)
    assert torch.allclose(grad, grad_reference, rtol=1e-12, atol=1e-14)
    flipped = cell.detach()[[1, 0, 2]]  # left-handed: the volume stays positive
    assert float(cell_volume(flipped)) == pytest.approx(float(volume.detach()), rel=1e-14)
