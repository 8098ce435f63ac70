r"""Matrix-free Qeq solver: preconditioned conjugate gradients on the constraints :math:`C^{\mathsf T} q = Q`.

Minimises :math:`\tfrac12 q^{\mathsf T} H q - b^{\mathsf T} q` (eV) with
:math:`H = k_e A + \operatorname{diag}(J)` (eV/e²) from a start :math:`q_0` corrected to the
constraints (:mod:`.constraints`: :math:`\sum_i q_i = Q`, or the total :math:`Q_f` (e) of each
fragment). The residual :math:`r = P(b - Hq)` (eV/e; ``P`` removes each fragment's mean) and the
preconditioned directions stay in the null space of the constraints, so every iterate keeps the
fragment totals; CG stops when :math:`|r| \le \mathrm{tol}\cdot\mathrm{scale}`. Each
iteration applies the Coulomb operator once (Ewald or P3M/PME, with pair list, kernel values and
mesh weights built once, pair sum and mesh spreading as sparse CSR products): O(N) memory.
Preconditioners: :mod:`.preconditioning`.

At tolerances above :data:`FLOAT32_SOLVE_TOL` the iterations run in float32. They cannot stall:
the solve is an iterative refinement. The true residual of the float64 charges is recomputed
(:meth:`ConjugateGradientSolver.exact`), float32 CG reduces it by at most :data:`FLOAT32_REDUCTION` (its own rounding stays
below that) or until it stagnates (no new smallest residual in :data:`STAGNATION_ITERATIONS`
iterations), the correction is added in float64, and the cycle repeats until the float64 residual
meets the tolerance. In float64 the same loop restarts a stagnating CG from its true residual.
A cycle of at most :data:`TRUSTED_CYCLE_ITERATIONS` iterations whose own (recursive) residual meets
the final tolerance ends the solve without another product with H: within one cycle's reduction
the recursive residual tracks the true one, and the
caller can check the true residual where it has the product anyway (:func:`~.api.qeq` does, from
the potential of the charges it computes next). ``verify=True`` recomputes it here instead.

The coarse-mesh preconditioner was built for near-lattice densities; on disordered structures
with close pairs (random-uniform positions) it was indefinite (rᵀM⁻¹r < 0 for 66 of 160 residuals
at 2·10⁴ atoms) until its correction was bounded by the densest region of the structure
(:mod:`lrcalc.electrostatics.preconditioner`). As a safety net, a cycle that meets rᵀz ≤ 0 stops
and the solver continues with the Jacobi preconditioner, positive definite for positive hardnesses.
The solution is returned in the dtype of the right-hand side, corrected to the exact totals.
"""

import torch

from ..coulomb import CoulombOperator
from .constraints import ChargeConstraints
from .hardness import HardnessSolver
from .preconditioning import TwoLevelPreconditioner, one_level

#: Loosest CG tolerance solved in float64: a looser solve (``tol`` above this) runs its
#: iterations in float32, whose rounding (≈1e-7 relative per operator application) stays well
#: below the tolerance; the differentiable pass after the solve is always float64.
FLOAT32_SOLVE_TOL = 1e-5

#: Largest reduction of the float64 residual asked of one float32 CG cycle (below it, float32
#: rounding of the operator would make the recursive residual a poor estimate of the true one).
FLOAT32_REDUCTION = 1e-4

#: A CG cycle that finds no smaller residual in this many iterations has stagnated: it stops, and
#: the refinement loop restarts it from the true residual.
STAGNATION_ITERATIONS = 25

#: Refinement cycles before a solve is declared failed (each restarts CG from the true residual).
MAX_CYCLES = 12

#: Longest cycle whose recursive residual ends a solve unchecked: rounding drift between the
#: recursive and the true residual grows with the iterations, so a longer cycle is verified.
TRUSTED_CYCLE_ITERATIONS = 50


class QeqConvergenceError(RuntimeError):
    """The conjugate-gradient Qeq solve did not reach its tolerance."""


class ConjugateGradientSolver(HardnessSolver):
    """:math:`H` applied matrix-free, with preconditioned CG for its constrained solves.

    :param coulomb: the Coulomb operator. :param hardness: ``[N]`` (eV/e²), detached.
    :param sigma: ``[N]`` widths (Å) or ``None``. :param tol: relative residual tolerance.
    :param max_iter: iteration limit (:class:`QeqConvergenceError` beyond it).
    :param positions: ``[N, 3]`` (Å) and :param cell: ``[3, 3]`` (Å), detached, for the mesh
        preconditioner. :param preconditioner: ``"auto"``, ``"mesh"`` or ``"jacobi"``.
    :param constraints: the fragment totals (:class:`~.constraints.ChargeConstraints`; default:
        the total charge alone).

    With a :class:`~.warm_start.QeqWarmStart` in :attr:`warm_start` (set after the charge solve)
    the adjoint solves start from its extrapolated adjoints, use its coarse space and update it.
    """

    name = "cg"

    def __init__(
        self,
        coulomb: CoulombOperator,
        hardness: torch.Tensor,
        sigma: torch.Tensor | None,
        tol: float,
        max_iter: int,
        positions: torch.Tensor | None = None,
        cell: torch.Tensor | None = None,
        preconditioner: str = "auto",
        constraints: ChargeConstraints | None = None,
    ):
        if constraints is None:
            constraints = ChargeConstraints.total(hardness.shape[0], 0.0, hardness)
        super().__init__(hardness, torch.float32 if tol > FLOAT32_SOLVE_TOL else hardness.dtype, constraints)
        self.tol = tol
        self.max_iter = max_iter
        # float64 even under float32 iterations: the coarse-mesh Woodbury correction cancels the
        # diagonal to ~1e-3, and in float32 it lost symmetry (random-uniform 10⁴ atoms: 126 float32
        # iterations to 1e-4 against 82 in float64 to 1e-6)
        self.one_level = one_level(preconditioner, coulomb, hardness, sigma, positions, cell, hardness.dtype,
                                   constraints)
        self._jacobi = lambda: one_level("jacobi", coulomb, hardness, sigma, positions, cell, hardness.dtype,
                                         constraints)
        #: the preconditioner of the next solves: one level, or two with a coarse space
        self.precondition = self.one_level
        # the detached matrix-vector product of the iterations, tables cast once
        self.coulomb_product = coulomb.detached(self.dtype)
        self.exact_hardness = hardness
        self.warm_start = None

    def __call__(self, q):
        q = q.to(self.dtype)
        with torch.no_grad():  # detached even inside a backward pass that builds a graph
            return self.coulomb_product(q) + self.hardness * q

    def use_coarse_space(self, space: tuple | None):
        """Precondition the next solves with the coarse space ``(W, HW, WᵀHW)`` of a
        :class:`~.warm_start.QeqWarmStart` (two levels), or with one level for ``None``."""
        two_level = TwoLevelPreconditioner.from_space(self.one_level, space, self.dtype)
        self.precondition = self.one_level if two_level is None else two_level

    @property
    def preconditioner_name(self) -> str:
        """The one-level preconditioner in use: ``"mesh"`` or ``"jacobi"``."""
        return self.one_level.name

    def exact(self, q: torch.Tensor) -> torch.Tensor:
        """H q of the float64 charges q, returned in float64, detached: the true residual of the
        refinement. The Coulomb product runs in the iterations' dtype: in float32 its rounding
        (~1e-7 relative) stays far below any tolerance above :data:`FLOAT32_SOLVE_TOL`; what
        stalls float32 CG is the drift of the recursively updated residual, which this replaces."""
        with torch.no_grad():
            coulomb = self.coulomb_product(q.to(self.dtype)).to(self.exact_hardness.dtype)
            return coulomb + self.exact_hardness * q.to(self.exact_hardness.dtype)

    def solve(self, rhs, totals, initial=None, scale=None, record=None, verify=False):
        """CG from ``initial`` (default: each fragment's total ``totals`` ``[F]`` (e) spread evenly),
        corrected to the totals, with iterative refinement (module
        docstring); with a list ``record``, the search directions and their (projected) products
        with ``H`` are appended to it as ``(p, Hp)``. Returns ``(q, iterations, residual)``: the
        charges, the CG iterations of all cycles, the final relative residual: the float64 residual,
        or, when the last cycle met the tolerance on its own residual and ``verify`` is false, that
        recursive estimate (one product with H fewer)."""
        scale = self.scale if scale is None else scale
        n = rhs.shape[0]
        out_dtype = rhs.dtype
        exact_dtype = self.exact_hardness.dtype
        rhs = rhs.to(exact_dtype)
        constraints = self.constraints
        totals = totals.to(exact_dtype)
        q = (constraints.uniform(totals) if initial is None
             else constraints.correct(initial.to(exact_dtype), totals))
        target = self.tol * scale
        mixed = self.dtype != exact_dtype
        iterations, history = 0, []
        for _ in range(MAX_CYCLES):
            r = constraints.project(rhs - self.exact(q))
            norm = float(torch.linalg.norm(r))
            history.append(norm / scale)
            if norm <= target:
                return constraints.correct(q.to(out_dtype), totals), iterations, norm / scale
            if iterations >= self.max_iter:
                break
            cycle_target = max(target, FLOAT32_REDUCTION * norm) if mixed else target
            correction, cycle_iterations, indefinite, estimate = self._cycle(
                r.to(self.dtype), cycle_target, self.max_iter - iterations, record)
            iterations += cycle_iterations
            if indefinite:
                if self.preconditioner_name == "jacobi":
                    break  # a Jacobi preconditioner is indefinite only for non-positive hardness
                self._fall_back_to_jacobi()
            q = q + correction.to(exact_dtype)
            if not verify and not indefinite and estimate <= target and cycle_iterations <= TRUSTED_CYCLE_ITERATIONS:
                return constraints.correct(q.to(out_dtype), totals), iterations, estimate / scale
        raise QeqConvergenceError(
            f"Qeq conjugate gradients did not converge: {iterations} iterations in {len(history)} "
            f"cycles, relative residual {history[-1]:.2e} > tol {self.tol:.1e} (residual after each "
            f"cycle: {', '.join(f'{h:.1e}' for h in history)}; N = {n}); raise max_iter or tol, or "
            "report the structure (non-positive hardnesses are rejected before the solve)"
        )

    def _cycle(self, r, target, max_iter, record):
        """One preconditioned CG cycle for H d = r in the null space of the constraints (per-fragment
        zero-sum vectors), from d = 0, in the dtype of
        the iterations: stops at |r| ≤ target, after ``max_iter`` iterations, or when stagnating.
        Returns (d, iterations, whether the preconditioner was found indefinite, the last recursive
        residual norm |r|)."""
        d = torch.zeros_like(r)
        project = self.constraints.project
        precondition = self.precondition
        z = precondition(r)
        p = z
        rz = torch.dot(r, z)
        best, best_iteration = float(torch.linalg.norm(r)), 0
        if float(rz) <= 0.0:
            return d, 0, True, best
        for iteration in range(1, max_iter + 1):
            hp = self(p)
            if record is not None:
                record.append((p, project(hp)))
            alpha = rz / torch.dot(p, hp)
            d = d + alpha * p
            r = project(r - alpha * hp)
            norm = float(torch.linalg.norm(r))
            if norm <= target or not norm == norm:  # converged (or NaN: the true residual decides)
                return d, iteration, False, norm
            if norm < best:
                best, best_iteration = norm, iteration
            elif iteration - best_iteration >= STAGNATION_ITERATIONS:
                return d, iteration, False, norm
            z = precondition(r)
            rz_new = torch.dot(r, z)
            if float(rz_new) <= 0.0:
                return d, iteration, True, norm
            p = z + (rz_new / rz) * p
            rz = rz_new
        return d, max_iter, False, norm

    def _fall_back_to_jacobi(self):
        """Continue with the Jacobi preconditioner (keeping a coarse space if one is in use)."""
        jacobi = self._jacobi()
        if isinstance(self.precondition, TwoLevelPreconditioner):
            old = self.precondition
            self.precondition = TwoLevelPreconditioner(jacobi, old.w, old.hw, old.factor)
        else:
            self.precondition = jacobi
        self.one_level = jacobi

    def adjoint_solve(self, b, norm):
        """With a warm start: start from the earlier steps' adjoints extrapolated to this step's
        positions, precondition with the coarse space of the earlier solves (this step's charge
        solve included), and store the solution and search directions for the next ones."""
        warm = self.warm_start
        if warm is None:
            return super().adjoint_solve(b, norm)
        initial = warm.adjoint_start()
        self.use_coarse_space(warm.space(b.shape[0], self.constraints))
        record = []
        start = None if initial is None else initial.to(b.dtype)
        zero = torch.zeros_like(self.constraints.totals)
        y, iterations, residual = self.solve(b, zero, initial=start, scale=norm, record=record)
        y = self.constraints.project(y)
        warm.add_adjoint_solve(y.detach(), record, iterations, residual)
        return y, iterations, residual
