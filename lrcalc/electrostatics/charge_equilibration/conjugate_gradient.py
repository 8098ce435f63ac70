r"""Matrix-free Qeq solver: preconditioned conjugate gradients on the plane :math:`\sum_i q_i = Q`.

Minimises :math:`\tfrac12 q^{\mathsf T} H q - b^{\mathsf T} q` (eV) with
:math:`H = k_e A + \operatorname{diag}(J)` (eV/e²) from a start :math:`q_0` corrected to
:math:`\sum_i q_i = Q` (e). The residual :math:`r = P(b - Hq)` (eV/e; ``P`` removes the mean)
stays on the plane, and CG stops when :math:`|r| \le \mathrm{tol}\cdot\mathrm{scale}`. Each
iteration applies the Coulomb operator once (Ewald or P3M/PME, with pair list, kernel values and
mesh weights built once, pair sum and mesh spreading as sparse CSR products): O(N) memory.
Preconditioners: :mod:`.preconditioning`.

At tolerances above :data:`FLOAT32_SOLVE_TOL` the iterations run in float32; the solution is
returned in the dtype of the right-hand side, corrected to the exact total charge.
"""

import torch

from ..coulomb import CoulombOperator
from .hardness import HardnessSolver
from .preconditioning import TwoLevelPreconditioner, one_level

#: Loosest CG tolerance solved in float64: a looser solve (``tol`` above this) runs its
#: iterations in float32, whose rounding (≈1e-7 relative per operator application) stays well
#: below the tolerance; the differentiable pass after the solve is always float64.
FLOAT32_SOLVE_TOL = 1e-5


class QeqConvergenceError(RuntimeError):
    """The conjugate-gradient Qeq solve did not reach its tolerance."""


class ConjugateGradientSolver(HardnessSolver):
    """:math:`H` applied matrix-free, with preconditioned CG for its constrained solves.

    :param coulomb: the Coulomb operator. :param hardness: ``[N]`` (eV/e²), detached.
    :param sigma: ``[N]`` widths (Å) or ``None``. :param tol: relative residual tolerance.
    :param max_iter: iteration limit (:class:`QeqConvergenceError` beyond it).
    :param positions: ``[N, 3]`` (Å) and :param cell: ``[3, 3]`` (Å), detached, for the mesh
        preconditioner. :param preconditioner: ``"auto"``, ``"mesh"`` or ``"jacobi"``.

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
    ):
        super().__init__(hardness, torch.float32 if tol > FLOAT32_SOLVE_TOL else hardness.dtype)
        self.tol = tol
        self.max_iter = max_iter
        self.one_level = one_level(preconditioner, coulomb, hardness, sigma, positions, cell, self.dtype)
        #: the preconditioner of the next solves: one level, or two with a coarse space
        self.precondition = self.one_level
        # the detached matrix-vector product of the iterations, tables cast once
        self.coulomb_product = coulomb.detached(self.dtype)
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

    def solve(self, rhs, total, initial=None, scale=None, record=None):
        """CG from ``initial`` (default: uniform ``total / N``); with a list ``record``, the search
        directions and their (projected) products with ``H`` are appended to it as ``(p, Hp)``."""
        scale = self.scale if scale is None else scale
        n = rhs.shape[0]
        out_dtype = rhs.dtype
        rhs = rhs.to(self.dtype)
        if initial is not None:
            initial = initial.to(self.dtype)
        q = torch.full_like(rhs, total / n) if initial is None else initial + (total - initial.sum()) / n
        r = rhs - self(q)
        r = r - r.mean()
        target = self.tol * scale
        norm = float(torch.linalg.norm(r))
        if norm <= target:
            q = q.to(out_dtype)
            return q + (total - q.sum()) / n, 0, norm / scale
        precondition = self.precondition
        z = precondition(r)
        p = z
        rz = torch.dot(r, z)
        for iteration in range(1, self.max_iter + 1):
            hp = self(p)
            if record is not None:
                record.append((p, hp - hp.mean()))
            alpha = rz / torch.dot(p, hp)
            q = q + alpha * p
            r = r - alpha * hp
            r = r - r.mean()
            norm = float(torch.linalg.norm(r))
            if norm <= target:
                q = q.to(out_dtype)
                q = q + (total - q.sum()) / n
                return q, iteration, norm / scale
            z = precondition(r)
            rz_new = torch.dot(r, z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        raise QeqConvergenceError(
            f"Qeq conjugate gradients did not converge in {self.max_iter} iterations "
            f"(relative residual {norm / scale:.2e} > tol {self.tol:.1e}); check that "
            "the hardnesses are positive, or raise max_iter / tol"
        )

    def adjoint_solve(self, b, norm):
        """With a warm start: start from the earlier steps' adjoints extrapolated to this step's
        positions, precondition with the coarse space of the earlier solves (this step's charge
        solve included), and store the solution and search directions for the next ones."""
        warm = self.warm_start
        if warm is None:
            return super().adjoint_solve(b, norm)
        initial = warm.adjoint_start()
        self.use_coarse_space(warm.space(b.shape[0]))
        record = []
        y, iterations, residual = self.solve(
            b, 0.0, initial=None if initial is None else initial.to(b.dtype), scale=norm, record=record
        )
        y = y - y.mean()
        warm.add_adjoint_solve(y.detach(), record, iterations, residual)
        return y, iterations, residual
