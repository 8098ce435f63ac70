"""Qeq on disordered structures: random-uniform positions with close pairs, float32 iterations
with float64 refinement, and the error for a genuinely bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrcalc.electrostatics import qeq
from lrcalc.electrostatics.charge_equilibration import conjugate_gradient as cg
from lrcalc.electrostatics.charge_equilibration.conjugate_gradient import FLOAT32_SOLVE_TOL, QeqConvergenceError

DTYPE = torch.float64


def random_uniform(n: int, seed: int = 0, density: float = 0.1):
    """The issue's system: uniform positions at 0.1 atoms/Å³, σ 0.8 Å, J in 6–10 eV/e², χ ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1 / 3)
    pos = torch.tensor(rng.uniform(size=(n, 3)) * side, dtype=DTYPE)
    cell = torch.eye(3, dtype=DTYPE) * side
    chi = torch.tensor(rng.normal(size=n), dtype=DTYPE)
    hardness = torch.tensor(rng.uniform(6.0, 10.0, size=n), dtype=DTYPE)
    return pos, cell, chi, hardness, torch.full((n,), 0.8, dtype=DTYPE)


@pytest.fixture(scope="module")
def dense_reference():
    """1000 random-uniform atoms and their charges from the dense solve (Ewald, accuracy 1e-8)."""
    system = random_uniform(1000)
    pos, cell, chi, hardness, sigma = system
    q_dense, _ = qeq(pos, chi, hardness, sigma, cell=cell, method="ewald", accuracy=1e-8, solver="dense")
    return system, q_dense


@pytest.mark.parametrize("accuracy", [1e-4, 1e-6])
def test_random_uniform_positions_converge_and_agree_with_the_dense_solve(accuracy, dense_reference):
    (pos, cell, chi, hardness, sigma), q_dense = dense_reference
    q_cg, _, info = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=accuracy,
                        solver="cg", return_info=True)
    assert info.iterations <= 60, info.iterations
    assert abs(float(q_cg.sum())) < 1e-9
    # the charge error follows the accuracy (P3M operator and solver tolerance together)
    assert float((q_cg - q_dense).abs().max()) < 50 * accuracy


def test_float32_iterations_are_refined_in_float64_to_the_tolerance(monkeypatch):
    """Each float32 cycle may reduce the float64 residual by 10x only: the refinement loop still
    reaches the tolerance, from the true residual, in several cycles."""
    monkeypatch.setattr(cg, "FLOAT32_REDUCTION", 0.1)
    pos, cell, chi, hardness, sigma = random_uniform(1000, seed=1)
    tol = 1e-4
    assert tol > FLOAT32_SOLVE_TOL
    q, _, info = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-6, tol=tol,
                     solver="cg", return_info=True)
    assert info.residual <= tol
    q64, _, info64 = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-6, tol=1e-9,
                         solver="cg", return_info=True)
    assert float((q - q64).abs().max()) < 1e-3


def test_a_stagnating_cycle_is_restarted_from_the_true_residual(monkeypatch):
    """With a stagnation window of one iteration every cycle stops early; the solve still converges."""
    monkeypatch.setattr(cg, "STAGNATION_ITERATIONS", 1)
    monkeypatch.setattr(cg, "MAX_CYCLES", 200)
    pos, cell, chi, hardness, sigma = random_uniform(600, seed=2)
    q, _, info = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-6, tol=1e-7,
                     solver="cg", return_info=True)
    assert info.residual <= 1e-7


def test_the_mesh_preconditioner_stays_positive_definite_on_random_positions():
    """Random-uniform positions with close pairs made the coarse-mesh preconditioner indefinite
    (rᵀM⁻¹r < 0) before its correction was bounded by the densest region: 10⁴ atoms needed 98–126
    iterations then, more than this test's cap of 60; now it stays the preconditioner."""
    pos, cell, chi, hardness, sigma = random_uniform(10000, seed=0)
    _, _, info = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-4, solver="cg",
                     preconditioner="mesh", return_info=True, max_iter=60)
    assert info.residual <= 1e-4
    assert info.preconditioner == "mesh"


def test_iterations_do_not_grow_with_the_size_of_a_random_structure():
    """The density-equalised coarse-mesh preconditioner: 17 and 19 iterations at 4000 and 16000
    random-uniform atoms (accuracy 1e-4); the globally damped one took 19 and 29, more than the cap
    of 23 at the larger size."""
    counts = []
    for n in (4000, 16000):
        pos, cell, chi, hardness, sigma = random_uniform(n, seed=0)
        _, _, info = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-4, solver="cg",
                         preconditioner="mesh", return_info=True, max_iter=23)
        assert info.residual <= 1e-4
        assert info.preconditioner == "mesh"
        counts.append(info.iterations)
    assert counts[1] <= counts[0] + 3, counts


def test_the_equalising_scale_is_one_on_a_lattice_and_evens_out_random_densities():
    from lrcalc.electrostatics.preconditioner import CoarseMeshPreconditioner

    side, k = 20.0, 10
    grid = torch.stack(torch.meshgrid(*[torch.arange(k, dtype=DTYPE)] * 3, indexing="ij"), -1).reshape(-1, 3)
    lattice = grid * (side / k)
    cell = torch.eye(3, dtype=DTYPE) * side
    hardness, sigma = torch.full((k**3,), 8.0, dtype=DTYPE), torch.full((k**3,), 0.8, dtype=DTYPE)
    on_lattice = CoarseMeshPreconditioner(lattice, cell, hardness, sigma)
    # within 1 % of one (the lattice and the coarse mesh are not commensurate)
    assert torch.allclose(on_lattice.equalising_scale(k**3, 3.0), torch.ones(k**3, dtype=DTYPE), atol=1e-2)
    pos, cell, _, hardness, sigma = random_uniform(4000, seed=1)
    random = CoarseMeshPreconditioner(pos, cell, hardness, sigma)
    scale = random.equalising_scale(4000, 3.0)
    density = random._interpolate(random._spread(scale))
    plain = random._interpolate(random._spread(torch.ones(4000, dtype=DTYPE)))
    assert float(scale.max()) <= 3.0
    # the spread of the interpolated density shrinks several-fold
    assert float(density.std() / density.mean()) < 0.3 * float(plain.std() / plain.mean())
    assert random.clustering == 1.0


def test_an_indefinite_preconditioner_gives_way_to_jacobi(monkeypatch):
    """The safety net: a preconditioner found indefinite during the iterations is replaced by
    Jacobi, and the solve converges."""
    from lrcalc.electrostatics.charge_equilibration import preconditioning

    original = preconditioning.ZeroSumPreconditioner.__call__

    def indefinite(self, r):
        return -original(self, r)

    pos, cell, chi, hardness, sigma = random_uniform(2000, seed=4)
    monkeypatch.setattr(preconditioning.ZeroSumPreconditioner, "__call__", indefinite)
    calls = []
    real_fallback = cg.ConjugateGradientSolver._fall_back_to_jacobi

    def fallback(self):
        calls.append(1)
        real_fallback(self)
        monkeypatch.setattr(preconditioning.ZeroSumPreconditioner, "__call__", original)

    monkeypatch.setattr(cg.ConjugateGradientSolver, "_fall_back_to_jacobi", fallback)
    _, _, info = qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-4, solver="cg",
                     preconditioner="mesh", return_info=True, max_iter=200)
    assert calls == [1]
    assert info.preconditioner == "jacobi"
    assert info.residual <= 1e-4


def test_negative_hardness_fails_with_the_numbers():
    pos, cell, chi, hardness, sigma = random_uniform(300, seed=3)
    hardness[17] = -40.0
    for solver in ("cg", "dense"):
        with pytest.raises(QeqConvergenceError, match=r"J\[17\] = -40 .*not positive \(1 of 300 atoms\)"):
            qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-6, solver=solver)


def test_an_iteration_cap_fails_with_the_residual_history():
    pos, cell, chi, hardness, sigma = random_uniform(500, seed=5)
    with pytest.raises(QeqConvergenceError, match=r"did not converge: 3 iterations .*residual after each cycle: 1\.0e\+00"):
        qeq(pos, chi, hardness, sigma, cell=cell, method="p3m", accuracy=1e-6, solver="cg", max_iter=3)
