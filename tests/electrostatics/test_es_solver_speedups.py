"""What makes the iterative Qeq solve fast, checked against the plain float64 path: the detached
(optionally float32) Coulomb product, float32 iterations, the recycled coarse space, extrapolated
starting points, frozen parameters and the cached reciprocal-vector search."""

import math

import pytest
import torch
from es_helpers import DTYPE, molecule, random_ions
from test_es_slab_and_charged import slab_system

from lrcalc.electrostatics import CoulombOperator, QeqWarmStart, qeq, tune
from lrcalc.electrostatics.charge_equilibration.coarse_space import COARSE_SPACE_MAX, coarse_space_size
from lrcalc.electrostatics.charge_equilibration.conjugate_gradient import FLOAT32_SOLVE_TOL
from lrcalc.electrostatics.charge_equilibration.history import HISTORY
from lrcalc.electrostatics.charge_equilibration.preconditioning import TwoLevelPreconditioner, one_level
from lrcalc.electrostatics.reciprocal import half_space_indices, reciprocal_basis
from lrcalc.electrostatics.strategy import CoulombStrategy


def _systems():
    pos, cell, _ = random_ions(40, density=0.05, seed=3)
    sigma = 0.8 + 0.4 * torch.rand(len(pos), generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    mol, _ = molecule(seed=2, n=12)
    slab_pos, slab_cell, _, slab_sigma = slab_system()
    return {
        "direct": (mol, None, (False, False, False), 0.9 * torch.ones(len(mol), dtype=DTYPE), "direct"),
        "ewald": (pos, cell, (True, True, True), sigma, "ewald"),
        "p3m": (pos, cell, (True, True, True), sigma, "p3m"),
        "pme": (pos, cell, (True, True, True), sigma, "pme"),
        "slab-ewald": (slab_pos, slab_cell, (True, True, False), slab_sigma, "ewald"),
        "slab-p3m": (slab_pos, slab_cell, (True, True, False), slab_sigma, "p3m"),
    }


@pytest.mark.parametrize("name", list(_systems()))
def test_detached_product_equals_operator(name):
    pos, cell, pbc, sigma, method = _systems()[name]
    operator = CoulombOperator(pos, cell, pbc, sigma, method, 1e-6)
    q = torch.randn(len(pos), generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    reference = operator(q)
    product64 = operator.detached(torch.float64)(q)
    torch.testing.assert_close(product64, reference, rtol=1e-12, atol=1e-12)
    product32 = operator.detached(torch.float32)(q.float())
    assert product32.dtype == torch.float32
    relative = float(torch.linalg.norm(product32.double() - reference) / torch.linalg.norm(reference))
    assert relative < 1e-5
    # every term is a CoulombStrategy whose detached map equals its differentiable one
    parts = operator.parts + ([] if operator.slab is None else [operator.slab])
    for part in parts:
        assert isinstance(part, CoulombStrategy)
        torch.testing.assert_close(part.detached(torch.float64)(q), part(q.unsqueeze(-1)).squeeze(-1),
                                   rtol=1e-12, atol=1e-12)


def _metallic_slab(repeat=3):
    """A Cu-like slab with soft hardness (hard for CG): 4 layers of a 2.55 Å square lattice."""
    a = 2.55
    grid = torch.stack(torch.meshgrid(*[torch.arange(k, dtype=DTYPE) for k in (repeat * 3, repeat * 3, 4)],
                                      indexing="ij"), dim=-1).reshape(-1, 3)
    pos = grid * torch.tensor([a, a, 2.1], dtype=DTYPE)
    pos[:, :2] += 0.5 * a * (grid[:, 2:3] % 2)
    cell = torch.diag(torch.tensor([3 * repeat * a, 3 * repeat * a, 40.0], dtype=DTYPE))
    gen = torch.Generator().manual_seed(4)
    chi = 0.5 * torch.randn(len(pos), generator=gen, dtype=DTYPE)
    hardness = torch.full((len(pos),), 1.0, dtype=DTYPE)
    sigma = torch.full((len(pos),), 1.3, dtype=DTYPE)
    sigma[::3] = 0.7
    return pos, cell, chi, hardness, sigma


def test_float32_iterations_reach_the_tolerance():
    """Above FLOAT32_SOLVE_TOL the iterations run in float32; the charges agree with a float64
    solve to the tolerance and keep Σq = Q to float64 precision."""
    pos, cell, chi, hardness, sigma = _metallic_slab()
    pbc = (True, True, False)
    params = tune(pos, cell, pbc, sigma, "p3m", 1e-4)
    tol = 1e-4
    assert tol > FLOAT32_SOLVE_TOL
    q32, _, info = qeq(pos, chi, hardness, sigma, -1.0, cell, pbc, parameters=params, solver="cg", tol=tol,
                       return_info=True)
    q64, _ = qeq(pos, chi, hardness, sigma, -1.0, cell, pbc, parameters=params, solver="cg", tol=1e-11)
    assert q32.dtype == torch.float64
    assert abs(float(q32.sum()) + 1.0) < 1e-10
    # CG error in the charges is bounded by the residual tolerance over the smallest eigenvalue of H
    # (≥ the hardness, 1 eV/e²) relative to the residual scale |Pχ|
    scale = float(torch.linalg.norm(chi - chi.mean()))
    assert float(torch.linalg.norm(q32 - q64)) < 3 * tol * scale / 1.0
    assert info.residual <= tol


@pytest.mark.parametrize("tol", [1e-4, 1e-7])
def test_reported_residual_is_the_true_one_without_a_final_product(tol):
    """CG ends on its recursive residual (no product with H to check it); qeq reports the true
    float64 residual from the potential it computes anyway, and it meets the tolerance. Products
    with H: one per iteration plus one true residual per refinement cycle, no final check."""
    pos, cell, chi, hardness, sigma = _metallic_slab()
    pbc = (True, True, False)
    params = tune(pos, cell, pbc, sigma, "p3m", 1e-4)
    q, _, info = qeq(pos, chi, hardness, sigma, -1.0, cell, pbc, parameters=params, solver="cg", tol=tol,
                     return_info=True)
    operator = CoulombOperator(pos, cell, pbc, sigma, parameters=params)
    gradient = chi + hardness * q + operator(q)
    true = float(torch.linalg.norm(gradient - gradient.mean()))
    cold = chi + hardness * (-1.0 / len(q)) + operator(torch.full_like(q, -1.0 / len(q)))
    scale = float(torch.linalg.norm(cold - cold.mean()))
    assert info.residual == pytest.approx(true / scale, rel=1e-6)
    assert info.residual <= tol

    from lrcalc.electrostatics.charge_equilibration import conjugate_gradient as cg
    from lrcalc.electrostatics.charge_equilibration.constraints import ChargeConstraints

    constraints = ChargeConstraints.total(len(q), -1.0, chi)
    solver = cg.ConjugateGradientSolver(operator, hardness, sigma, tol, 500, pos, cell, "auto", constraints)
    solver.scale = scale
    products = []
    solver.coulomb_product = (lambda apply: lambda v: products.append(1) or apply(v))(solver.coulomb_product)
    trusted, iterations, _ = solver.solve(-chi, constraints.totals)
    trusted_products = len(products)
    products.clear()
    verified, iterations_verified, residual = solver.solve(-chi, constraints.totals, verify=True)
    assert iterations_verified == iterations
    assert len(products) == trusted_products + 1  # the verified solve adds the final true residual
    assert residual <= tol
    assert torch.allclose(trusted, verified, rtol=0, atol=1e-12)
    # an adjoint solve reports its recursive residual: the true one agrees with it
    b = torch.randn(len(q), generator=torch.Generator().manual_seed(1), dtype=q.dtype)
    b = b - b.mean()
    y = solver.constrained_inverse(b)
    hy = operator(y) + hardness * y
    true_adjoint = float(torch.linalg.norm(b - hy - (b - hy).mean())) / float(torch.linalg.norm(b))
    assert solver.adjoint_residuals[-1] <= tol
    assert true_adjoint <= 1.5 * tol
    assert true_adjoint == pytest.approx(solver.adjoint_residuals[-1], rel=0.2, abs=1e-3 * tol)

def test_two_level_preconditioner_is_symmetric_positive_definite_and_recycles():
    pos, cell, chi, hardness, sigma = _metallic_slab(repeat=2)
    pbc = (True, True, False)
    params = tune(pos, cell, pbc, sigma, "p3m", 1e-4)
    n = len(pos)

    def solve(warm_start):  # float64 iterations, mesh preconditioner
        return qeq(pos, chi, hardness, sigma, 0.0, cell, pbc, parameters=params, solver="cg", tol=1e-6,
                   preconditioner="mesh", warm_start=warm_start, return_info=True)

    warm = QeqWarmStart()
    q_cold, _, cold = solve(warm)
    assert cold.iterations <= COARSE_SPACE_MAX
    assert warm.coarse_space[0].shape[1] == min(cold.iterations, coarse_space_size(n)) > 5
    coulomb = CoulombOperator(pos, cell, pbc, sigma, parameters=params)
    two_level = TwoLevelPreconditioner.from_space(
        one_level("mesh", coulomb, hardness, sigma, pos, cell, DTYPE), warm.space(n), DTYPE
    )
    assert two_level is not None
    # the two-level preconditioner as a matrix on the zero-sum plane: symmetric positive definite
    basis = torch.eye(n, dtype=DTYPE)[:, :-1] - 1.0 / n  # spans the zero-sum plane (not orthonormal)
    basis = basis - basis.mean(0)
    m = torch.stack([two_level(basis[:, k] - basis[:, k].mean()) for k in range(n - 1)], dim=1)
    projected = basis.T @ m
    torch.testing.assert_close(projected, projected.T, rtol=0, atol=1e-8 * float(projected.abs().max()))
    assert float(torch.linalg.eigvalsh(0.5 * (projected + projected.T))[0]) > 0
    # the same system again from a cold start (coarse space only): its own search directions span
    # the solution, so (almost) no iterations
    q_again, _, again = solve(QeqWarmStart(coarse_space=warm.coarse_space))
    assert again.iterations <= 5 < cold.iterations, (again.iterations, cold.iterations)
    torch.testing.assert_close(q_again, q_cold, rtol=0, atol=1e-5)  # both solved to tol 1e-6


def test_recycled_space_from_a_moved_geometry_saves_iterations_and_changes_nothing():
    """The coarse space of the previous geometry (products with the old H) is still a valid
    preconditioner: same charges, fewer iterations."""
    pos, cell, chi, hardness, sigma = _metallic_slab(repeat=2)
    pbc = (True, True, False)
    warm = QeqWarmStart()
    qeq(pos, chi, hardness, sigma, 0.0, cell, pbc, method="p3m", accuracy=1e-4, solver="cg", warm_start=warm)
    moved = pos + 0.02 * torch.randn(pos.shape, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
    previous = QeqWarmStart(steps=list(warm.steps))  # starting point only, no coarse space
    q_plain, _, plain = qeq(moved, chi, hardness, sigma, 0.0, cell, pbc, method="p3m", accuracy=1e-4,
                            solver="cg", warm_start=previous, return_info=True)
    q_recycled, _, recycled = qeq(moved, chi, hardness, sigma, 0.0, cell, pbc, method="p3m", accuracy=1e-4,
                                  solver="cg", warm_start=warm, return_info=True)
    assert recycled.iterations < plain.iterations
    scale = float(torch.linalg.norm(chi - chi.mean()))
    assert float(torch.linalg.norm(q_recycled - q_plain)) < 3e-4 * scale
    assert warm.coarse_space[0].shape[1] <= coarse_space_size(len(pos))


def test_extrapolated_starting_point():
    """Positions and charges moving linearly (a smooth trajectory): the fitted extrapolation is
    exact. Uncorrelated moves: the fit falls back to (about) the last solution."""
    gen = torch.Generator().manual_seed(6)
    x0, velocity = torch.randn(30, 3, generator=gen, dtype=DTYPE), torch.randn(30, 3, generator=gen, dtype=DTYPE)
    q0, dq = torch.randn(30, generator=gen, dtype=DTYPE), torch.randn(30, generator=gen, dtype=DTYPE)
    warm = QeqWarmStart()
    for t in range(3):
        warm.record(x0 + 0.01 * t * velocity, q0 + 0.01 * t * dq)
    prediction = warm.predict("charges", x0 + 0.03 * velocity)
    torch.testing.assert_close(prediction, q0 + 0.03 * dq, rtol=0, atol=1e-10)
    random_walk = QeqWarmStart()
    x = x0.clone()
    charges = []
    for _ in range(3):
        x = x + 0.01 * torch.randn(x.shape, generator=gen, dtype=DTYPE)
        charges.append(torch.randn(30, generator=gen, dtype=DTYPE))
        random_walk.record(x, charges[-1])
    target = x + 0.01 * torch.randn(x.shape, generator=gen, dtype=DTYPE)
    prediction = random_walk.predict("charges", target)
    last_difference = float(torch.linalg.norm(charges[-1] - charges[-2]))
    # (a linear extrapolation would move it by the whole last difference)
    assert float(torch.linalg.norm(prediction - charges[-1])) < 0.5 * last_difference
    # nothing stored for another system size
    assert warm.predict("charges", torch.zeros(5, 3, dtype=DTYPE)) is None
    assert len(warm.steps) == HISTORY


def test_warm_start_without_extrapolation_or_recycling():
    """QeqWarmStart(extrapolate=False) starts from the last solution, recycle=False keeps no coarse
    space; the charges agree with those of a full warm start to the tolerance."""
    pos, cell, chi, hardness, sigma = _metallic_slab(repeat=1)
    pbc = (True, True, False)
    plain, full = QeqWarmStart(extrapolate=False, recycle=False), QeqWarmStart()
    gen = torch.Generator().manual_seed(8)
    scale = float(torch.linalg.norm(chi - chi.mean()))
    for _ in range(4):
        pos = pos + 0.01 * torch.randn(pos.shape, generator=gen, dtype=DTYPE)
        options = {"method": "ewald", "accuracy": 1e-4, "solver": "cg"}
        q_plain, _ = qeq(pos, chi, hardness, sigma, 0.0, cell, pbc, warm_start=plain, **options)
        q_full, _ = qeq(pos, chi, hardness, sigma, 0.0, cell, pbc, warm_start=full, **options)
        assert float(torch.linalg.norm(q_plain - q_full)) < 3e-4 * scale
    assert len(plain.steps) == len(full.steps) == HISTORY
    assert torch.equal(plain.predict("charges", pos + 0.01), plain.charges)
    assert plain.coarse_space is None and plain.space(len(pos)) is None
    assert full.space(len(pos)) is not None
    assert len(plain.stats.charge_iterations) == len(full.stats.charge_iterations) == 4


def test_warm_start_freezes_parameters_per_cell():
    pos, cell, chi, hardness, sigma = _metallic_slab(repeat=1)
    pbc = (True, True, False)
    warm = QeqWarmStart()
    first = warm.coulomb_parameters(pos, cell, pbc, sigma, "ewald", 1e-5)
    assert first == tune(pos, cell, pbc, sigma, "ewald", 1e-5)
    thicker = pos.clone()
    thicker[:, 2] *= 1.2  # the tuned Ewald split would move with the slab thickness: kept
    assert warm.coulomb_parameters(thicker, cell, pbc, sigma, "ewald", 1e-5) is first
    other_cell = cell * 1.01
    assert warm.coulomb_parameters(pos, other_cell, pbc, sigma, "ewald", 1e-5) is not first
    # a solve with frozen parameters equals one with freshly tuned ones to the accuracy
    q_warm, e_warm = qeq(thicker, chi, hardness, sigma, 0.0, cell, pbc, method="ewald", accuracy=1e-8,
                         warm_start=QeqWarmStart())
    q_cold, e_cold = qeq(thicker, chi, hardness, sigma, 0.0, cell, pbc, method="ewald", accuracy=1e-8)
    torch.testing.assert_close(q_warm, q_cold, rtol=0, atol=1e-8)


@pytest.mark.parametrize("rows", [2, 3])
def test_reciprocal_indices_against_brute_force(rows):
    gen = torch.Generator().manual_seed(rows)
    lattice = torch.eye(3, dtype=DTYPE)[:rows] * 6.0 + torch.rand(rows, 3, generator=gen, dtype=DTYPE)
    k_max = 2.3
    m = half_space_indices(lattice, k_max)
    basis = reciprocal_basis(lattice)
    torch.testing.assert_close(lattice @ basis.T, 2 * math.pi * torch.eye(rows, dtype=DTYPE))
    brute = set()
    span = range(-8, 9)
    for combo in torch.cartesian_prod(*[torch.tensor(list(span), dtype=DTYPE)] * rows):
        norm = float(torch.linalg.norm(combo @ basis))
        if 0 < norm <= k_max:
            brute.add(tuple(int(v) for v in combo))
    found = {tuple(int(v) for v in row) for row in m}
    assert len(found) == len(m)  # no duplicates
    assert found | {tuple(-v for v in f) for f in found} == brute
    assert not found & {tuple(-v for v in f) for f in found}  # one of each ±m
    torch.testing.assert_close(half_space_indices(lattice, k_max), m)  # from the cached candidates
    # k = m B stays differentiable in the cell
    cell = lattice.clone().requires_grad_(True)
    (half_space_indices(cell, k_max) @ reciprocal_basis(cell)).pow(2).sum().backward()
    assert cell.grad is not None and torch.isfinite(cell.grad).all()


@pytest.mark.parametrize("accuracy", [1e-4, 1e-7])
def test_small_slab_cells_widen_the_gap_instead_of_a_layer_correction(accuracy):
    """A small in-plane cell would need only a few layer-correction modes: the gap grows to
    ln(10/ε)/k_min instead, and the energy stays converged; a large cell keeps the correction."""
    import dataclasses

    from lrcalc.electrostatics import coulomb_energy

    pos, cell, q, sigma = slab_system()
    pbc = (True, True, False)
    params = tune(pos, cell, pbc, sigma, "ewald", accuracy)
    if accuracy >= 1e-4:  # 8 Å cell: a handful of modes at this accuracy
        assert params.layer_k_max is None
    if params.layer_k_max is None:
        k_min = min(float(torch.linalg.norm(k)) for k in reciprocal_basis(cell[:2]))
        assert params.vacuum >= math.log(10 / accuracy) / k_min
    reference = dataclasses.replace(tune(pos, cell, pbc, sigma, "ewald", 1e-10), vacuum=80.0, layer_k_max=None)
    energy = float(coulomb_energy(pos, q, cell, pbc, sigma, parameters=params))
    converged = float(coulomb_energy(pos, q, cell, pbc, sigma, parameters=reference))
    assert energy == pytest.approx(converged, rel=10 * accuracy)
    big_cell = cell.clone()
    big_cell[:2] *= 6.0
    assert tune(pos, big_cell, pbc, sigma, "p3m", accuracy).layer_k_max is not None


def test_warm_started_cg_on_a_small_system_keeps_converging():
    """A coarse space with nearly as many columns as atoms would be singular; it is capped well
    below N, so repeated warm-started solves of a small system stay as good as cold ones."""
    pos, cell, chi, hardness, sigma = _metallic_slab(repeat=1)
    pbc = (True, True, False)
    assert coarse_space_size(len(pos)) <= len(pos) // 4
    warm = QeqWarmStart()
    gen = torch.Generator().manual_seed(7)
    scale = float(torch.linalg.norm(chi - chi.mean()))
    for _ in range(12):
        pos = pos + 0.01 * torch.randn(pos.shape, generator=gen, dtype=DTYPE)
        q_warm, _, info = qeq(pos, chi, hardness, sigma, 0.0, cell, pbc, method="ewald", accuracy=1e-4,
                              solver="cg", warm_start=warm, return_info=True)
        q_cold, _ = qeq(pos, chi, hardness, sigma, 0.0, cell, pbc, method="ewald", accuracy=1e-4, solver="cg")
        assert float(torch.linalg.norm(q_warm - q_cold)) < 3e-4 * scale
        assert info.iterations < 40
