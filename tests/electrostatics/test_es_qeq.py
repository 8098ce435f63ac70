"""Charge equilibration: constraint, dense vs CG, implicit gradients, warm starts, errors."""

import pytest
import torch
from es_helpers import DTYPE, QEQ_GEOMETRIES, qeq_system

from lrcalc.electrostatics import QeqConvergenceError, coulomb_energy, qeq, tune


@pytest.mark.parametrize("kind", list(QEQ_GEOMETRIES))
@pytest.mark.parametrize("total", [0.0, -1.5])
def test_constraint_dense_vs_cg_and_optimality(kind, total):
    pos, cell, chi, hardness, sigma = qeq_system(kind)
    opts = {
        "cell": cell,
        "pbc": QEQ_GEOMETRIES[kind]["pbc"],
        "method": QEQ_GEOMETRIES[kind]["method"],
        "accuracy": 1e-8,
    }
    q_dense, e_dense = qeq(pos, chi, hardness, sigma, total, solver="dense", **opts)
    q_cg, e_cg = qeq(pos, chi, hardness, sigma, total, solver="cg", tol=1e-12, **opts)
    assert abs(float(q_dense.sum()) - total) < 1e-10
    assert abs(float(q_cg.sum()) - total) < 1e-10
    assert float((q_dense - q_cg).abs().max()) < 1e-8
    assert float(e_cg) == pytest.approx(float(e_dense), rel=1e-10)
    # the energy is the Qeq functional at the returned charges ...
    e_direct = (
        (chi * q_dense).sum()
        + 0.5 * (hardness * q_dense**2).sum()
        + coulomb_energy(pos, q_dense, sigma=sigma, **opts)
    )
    assert float(e_dense) == pytest.approx(float(e_direct), rel=1e-10)
    # ... and its minimum on the constraint plane: zero-sum perturbations raise it
    for seed in range(3):
        d = torch.randn(len(pos), generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
        d = 1e-3 * (d - d.mean())
        q = q_dense + d
        e = (chi * q).sum() + 0.5 * (hardness * q**2).sum() + coulomb_energy(pos, q, sigma=sigma, **opts)
        assert float(e) > float(e_dense)


def test_cg_matches_dense_with_p3m_at_larger_size():
    pos, cell, chi, hardness, sigma = qeq_system("p3m", n=128, seed=4)
    params = tune(pos, cell, (True,) * 3, sigma, "p3m", 1e-6)
    q_dense, _ = qeq(pos, chi, hardness, sigma, cell=cell, parameters=params, solver="dense")
    for preconditioner in ("mesh", "jacobi"):
        q_cg, _ = qeq(
            pos,
            chi,
            hardness,
            sigma,
            cell=cell,
            parameters=params,
            solver="cg",
            tol=1e-12,
            preconditioner=preconditioner,
        )
        assert float((q_dense - q_cg).abs().max()) < 1e-8


@pytest.mark.parametrize("kind", ["molecule", "ewald"])
@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_gradcheck_qeq(kind, solver):
    """Exact first derivatives of charges and energy w.r.t. all inputs (implicit solve)."""
    pos, cell, chi, hardness, sigma = qeq_system(kind, n=6, seed=1)
    pbc = QEQ_GEOMETRIES[kind]["pbc"]
    params = tune(pos, cell, pbc, sigma, QEQ_GEOMETRIES[kind]["method"], 1e-8) if cell is not None else None

    def fn(p, c, x, j, s):
        return qeq(
            p,
            x,
            j,
            s,
            0.4,
            cell=c if cell is not None else None,
            pbc=pbc,
            solver=solver,
            tol=1e-13,
            parameters=params,
        )

    inputs = [
        t.clone().requires_grad_(True)
        for t in (pos, cell if cell is not None else torch.eye(3, dtype=DTYPE), chi, hardness, sigma)
    ]
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["molecule", "ewald"])
def test_gradgradcheck_qeq_energy(kind):
    """Exact second derivatives of the Qeq energy (forces in a training loss)."""
    pos, cell, chi, hardness, sigma = qeq_system(kind, n=4, seed=2)
    pbc = QEQ_GEOMETRIES[kind]["pbc"]
    params = tune(pos, cell, pbc, sigma, QEQ_GEOMETRIES[kind]["method"], 1e-6) if cell is not None else None

    def energy(p, x, j, s):
        return qeq(p, x, j, s, 0.0, cell=cell, pbc=pbc, solver="cg", tol=1e-13, parameters=params)[1]

    inputs = [t.clone().requires_grad_(True) for t in (pos, chi, hardness, sigma)]
    assert torch.autograd.gradgradcheck(energy, inputs, atol=1e-5, rtol=1e-4)


def test_force_loss_gradient_equals_finite_differences():
    """d/dχ of a force-matching loss (double backward through the solve) vs finite differences."""
    pos, cell, chi, hardness, sigma = qeq_system("ewald", n=8, seed=3)
    params = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-10)

    def loss(x, create_graph):
        p = pos.clone().requires_grad_(True)
        _, energy = qeq(p, x, hardness, sigma, cell=cell, solver="cg", tol=1e-13, parameters=params)
        (forces,) = torch.autograd.grad(energy, p, create_graph=create_graph)
        return (forces**2).sum()

    x = chi.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(x, True), x)
    h = 1e-5
    for i in (0, 4):
        plus, minus = chi.clone(), chi.clone()
        plus[i] += h
        minus[i] -= h
        fd = (float(loss(plus, False)) - float(loss(minus, False))) / (2 * h)
        assert float(grad[i]) == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_forces_are_envelope_derivatives():
    """Qeq forces equal finite differences of the minimised energy."""
    pos, cell, chi, hardness, sigma = qeq_system("ewald", n=10, seed=5)
    params = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-10)
    p = pos.clone().requires_grad_(True)
    _, energy = qeq(p, chi, hardness, sigma, cell=cell, parameters=params, solver="cg", tol=1e-13)
    (grad,) = torch.autograd.grad(energy, p)
    h = 1e-5
    plus, minus = pos.clone(), pos.clone()
    plus[2, 1] += h
    minus[2, 1] -= h
    e_p = qeq(plus, chi, hardness, sigma, cell=cell, parameters=params, solver="cg", tol=1e-13)[1]
    e_m = qeq(minus, chi, hardness, sigma, cell=cell, parameters=params, solver="cg", tol=1e-13)[1]
    assert float(grad[2, 1]) == pytest.approx((float(e_p) - float(e_m)) / (2 * h), rel=1e-6)


def test_warm_start_reduces_iterations():
    pos, cell, chi, hardness, sigma = qeq_system("p3m", n=64, seed=6)
    q0, _ = qeq(pos, chi, hardness, sigma, cell=cell, solver="cg")
    moved = pos + 0.01 * torch.randn(pos.shape, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    q1, _, warm = qeq(
        moved, chi, hardness, sigma, cell=cell, solver="cg", initial_charges=q0, return_info=True
    )
    _, _, cold1 = qeq(moved, chi, hardness, sigma, cell=cell, solver="cg", return_info=True)
    assert warm.iterations < cold1.iterations
    assert abs(float(q1.sum())) < 1e-10


def test_warm_start_object_carries_charges_and_adjoint():
    """A QeqWarmStart passed to successive calls (MD) starts the charge solve and the backward
    (adjoint) solve from the previous solutions; results agree with cold solves."""
    from lrcalc.electrostatics import QeqWarmStart

    pos, cell, chi, hardness, sigma = qeq_system("p3m", n=64, seed=6)
    warm = QeqWarmStart()
    weights = torch.linspace(-1.0, 1.0, len(pos), dtype=DTYPE)  # an energy that depends on q: Σ w_i q_i²

    def forces(positions, warm_start):
        positions = positions.clone().requires_grad_(True)
        q, energy = qeq(positions, chi, hardness, sigma, cell=cell, solver="cg", tol=1e-10, warm_start=warm_start)
        (gradient,) = torch.autograd.grad(energy + (weights * q**2).sum(), positions)
        return q.detach(), -gradient

    q0, _ = forces(pos, warm)
    assert warm.charges is not None and warm.adjoint is not None
    first_adjoint = warm.adjoint.clone()
    moved = pos + 0.01 * torch.randn(pos.shape, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    q1, f1 = forces(moved, warm)
    q1_cold, f1_cold = forces(moved, None)
    torch.testing.assert_close(q1, q1_cold, rtol=0, atol=1e-8)
    torch.testing.assert_close(f1, f1_cold, rtol=0, atol=1e-7)
    assert not torch.equal(warm.adjoint, first_adjoint)  # replaced by this call's solution
    torch.testing.assert_close(warm.charges, q1)


@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_info_reports_the_charge_and_adjoint_solves(solver):
    """QeqInfo says what the solve did: the solver, its iterations (none for the dense solver) and
    final relative residual, and, as backward passes run, each adjoint solve they needed; a warm
    start (used by the iterative solver only) logs the same in its stats."""
    from lrcalc.electrostatics import QeqWarmStart

    pos, cell, chi, hardness, sigma = qeq_system("p3m", n=64, seed=6)
    tol = 1e-8
    warm = QeqWarmStart()
    positions = pos.clone().requires_grad_(True)
    q, energy, info = qeq(positions, chi, hardness, sigma, cell=cell, solver=solver, tol=tol, warm_start=warm,
                          return_info=True)
    assert info.solver == solver
    assert info.residual <= tol
    assert (info.iterations == 0) == (solver == "dense")
    # the forces of the Qeq energy alone need no adjoint solve (the energy is stationary in q)
    torch.autograd.grad(energy, positions, retain_graph=True)
    assert info.adjoint_iterations == [] and info.adjoint_residuals == []
    # an energy that depends on the charges does
    weights = torch.linspace(-1.0, 1.0, len(pos), dtype=DTYPE)
    torch.autograd.grad(energy + (weights * q**2).sum(), positions)
    assert len(info.adjoint_iterations) == len(info.adjoint_residuals) == 1
    assert info.adjoint_residuals[0] <= tol
    assert (info.adjoint_iterations[0] == 0) == (solver == "dense")
    stats = warm.stats
    if solver == "dense":
        assert stats.charge_iterations == stats.adjoint_iterations == []
    else:
        assert stats.charge_iterations == [info.iterations] and stats.charge_residuals == [info.residual]
        assert stats.adjoint_iterations == info.adjoint_iterations
        assert stats.adjoint_residuals == info.adjoint_residuals


def test_non_convergence_raises():
    pos, cell, chi, hardness, sigma = qeq_system("ewald", n=32, seed=7)
    with pytest.raises(QeqConvergenceError, match="did not converge"):
        qeq(pos, chi, hardness, sigma, cell=cell, solver="cg", max_iter=2, tol=1e-14)


def test_bad_qeq_input():
    pos, _, chi, hardness, sigma = qeq_system("molecule", n=4)
    with pytest.raises(ValueError, match="chi"):
        qeq(pos, chi[:3], hardness, sigma)
    with pytest.raises(ValueError, match="NaN"):
        qeq(pos, chi, hardness * float("nan"), sigma)
    with pytest.raises(ValueError, match="solver"):
        qeq(pos, chi, hardness, sigma, solver="lu")


def test_adjoint_solve_is_relative_to_the_incoming_gradient():
    """Tiny loss gradients (scaled by 1e-9) are solved as accurately as large ones."""
    pos, cell, chi, hardness, sigma = qeq_system("ewald", n=24, seed=8)
    params = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-8)
    weights = torch.linspace(-1.0, 1.0, len(chi), dtype=DTYPE)
    grads = {}
    for solver in ("dense", "cg"):
        x = chi.clone().requires_grad_(True)
        q, _ = qeq(pos, x, hardness, sigma, cell=cell, parameters=params, solver=solver, tol=1e-12)
        (grads[solver],) = torch.autograd.grad(1e-9 * (weights * q).sum(), x)
    assert float(grads["dense"].abs().max()) > 1e-11
    torch.testing.assert_close(grads["cg"], grads["dense"], rtol=1e-7, atol=1e-18)


@pytest.mark.parametrize("solver", ["dense", "cg"])
@pytest.mark.parametrize("kind", ["molecule", "ewald"])
def test_second_derivatives_of_the_charges_through_chi_are_exact(kind, solver):
    """A loss that is not stationary in q (what a model whose charges feed its features has),
    differentiated first in χ (a field enters there: Born charges), then in the positions, the
    hardness and the widths, on which S depends; against central differences."""
    pos, cell, chi, hardness, sigma = qeq_system(kind, n=10)
    opts = {"cell": cell, "pbc": QEQ_GEOMETRIES[kind]["pbc"], "method": QEQ_GEOMETRIES[kind]["method"],
            "accuracy": 1e-10, "solver": solver}
    weights = torch.linspace(0.5, 2.0, len(pos), dtype=DTYPE)
    direction = torch.randn(len(pos), generator=torch.Generator().manual_seed(3), dtype=DTYPE)

    def chi_gradient_along(positions, hardness_, sigma_, create_graph):
        chi_ = chi.clone().requires_grad_(True)
        q, _ = qeq(positions, chi_, hardness_, sigma_, 0.5, **opts)
        (gradient,) = torch.autograd.grad((weights * q**2).sum(), chi_, create_graph=create_graph)
        return (gradient * direction).sum()

    inputs = [t.clone().requires_grad_(True) for t in (pos, hardness, sigma)]
    analytic = torch.autograd.grad(chi_gradient_along(*inputs, create_graph=True), inputs)
    h = 1e-5
    for k, (name, value) in enumerate(zip(("positions", "hardness", "sigma"), (pos, hardness, sigma))):
        for index in ((0, 2), (4, 0)) if k == 0 else (0, 4):
            args = [pos, hardness, sigma]
            plus, minus = value.clone(), value.clone()
            plus[index] += h
            minus[index] -= h
            args[k] = plus
            f_plus = float(chi_gradient_along(*args, create_graph=False))
            args[k] = minus
            f_minus = float(chi_gradient_along(*args, create_graph=False))
            numerical = (f_plus - f_minus) / (2 * h)
            assert float(analytic[k][index]) == pytest.approx(numerical, rel=1e-5, abs=1e-8), (name, index)
