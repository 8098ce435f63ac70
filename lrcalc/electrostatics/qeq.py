r"""Charge equilibration (Qeq) with a total-charge constraint and implicit gradients.

The charges minimise

.. math::

    L(q) = \sum_i \big(\chi_i q_i + \tfrac12 J_i q_i^2\big) + E_{\mathrm{coul}}(q)
    \quad\text{subject to}\quad \sum_i q_i = Q,

with electronegativities :math:`\chi` (eV/e), hardnesses :math:`J` (eV/e²) and the
Gaussian-charge Coulomb energy :math:`E_{\mathrm{coul}} = \tfrac12 q^{\mathsf T} k_e A q`
of :mod:`.coulomb`. With :math:`H = k_e A + \operatorname{diag}(J)` the optimality
conditions are :math:`H q + \chi = \mu \mathbf 1`, :math:`\mathbf 1^{\mathsf T} q = Q`.

Solvers:

- ``"dense"``: builds :math:`H` (O(N²) memory) and solves the bordered (KKT) system
  directly; for small N.
- ``"cg"``: matrix-free preconditioned conjugate gradients restricted to the plane
  :math:`\sum_i q_i = Q`, one application of the Coulomb operator (Ewald or P3M/PME, with
  the pair list, kernel values and mesh weights built once, pair sum and mesh spreading as
  sparse CSR products) per iteration; O(N) memory. The one-level preconditioner is a
  coarse-mesh Woodbury approximation for periodic systems (:mod:`.preconditioner`) or the
  Jacobi diagonal :math:`D_{ii} = J_i + k_e/(\sqrt\pi\sigma_i)`, projected onto zero-sum
  vectors. Two things make MD cheap (see :class:`QeqWarmStart`): starting points extrapolated
  from the previous steps, and a coarse space of earlier search directions that a two-level
  (balancing) preconditioner inverts directly. At tolerances above
  :data:`FLOAT32_SOLVE_TOL` the iterations run in float32 (the solution is corrected to the
  exact total charge in float64, and the differentiable pass after the solve is float64).

Gradients (implicit differentiation). With :math:`q^*` the detached solution, :math:`S`
the constrained inverse of :math:`H` (solution of :math:`Hy = b - c\mathbf 1`,
:math:`\mathbf 1^{\mathsf T}y = 0`) and the projected residual
:math:`r(\theta) = -P\,\nabla_q L(q^*;\theta)` (zero in value, but carrying the
dependence on :math:`\theta = (\chi, J, \sigma, \text{positions}, \text{cell})`):

.. math::

    q = q^* + S\,r(\theta), \qquad E = L(q^*;\theta) - \tfrac12\, r^{\mathsf T} S\, r .

Both are exact in value (Newton step from :math:`q^*`), the first derivatives of
:math:`q` and :math:`E` are exact (adjoint solve with :math:`S` in the backward pass), and
so are the second derivatives of :math:`E` (forces in a training loss, Hessians): the
quadratic correction supplies the :math:`-\partial_\theta\nabla_q L\, S\, \nabla_q
\partial_\theta L` term. Second derivatives of the *charges* treat :math:`S` as constant
and are not exact. Only one differentiable application of the Coulomb operator is made,
so memory stays O(N).
"""

import dataclasses

import torch

from .constants import COULOMB_CONSTANT
from .coulomb import CoulombOperator
from .kernels import self_coefficient
from .preconditioner import CoarseMeshPreconditioner, JacobiPreconditioner
from .tuning import CoulombParameters, tune
from .validation import check_system

#: Largest system for which ``solver="auto"`` uses the dense solver.
DENSE_MAX_ATOMS = 400

#: Most columns kept in the coarse space of earlier search directions (see ``_two_level``).
COARSE_SPACE_MAX = 512
#: Most entries (atoms × columns) of one stored coarse space (W and HW each, float32: 64 MB).
COARSE_SPACE_ENTRIES = 2**24
#: Relative diagonal shifts of Wᵀ(HW) tried in turn for its factorisation (damp nearly dependent
#: directions, and directions made indefinite by products from earlier geometries).
COARSE_SPACE_SHIFTS = (1e-6, 1e-4, 1e-3, 1e-2)

#: Earlier solutions a :class:`QeqWarmStart` keeps for its extrapolated starting point.
HISTORY = 3

#: Loosest CG tolerance solved in float64: a looser solve (``tol`` above this) runs its
#: iterations in float32, whose rounding (≈1e-7 relative per operator application) stays well
#: below the tolerance; the differentiable pass after the solve is always float64.
FLOAT32_SOLVE_TOL = 1e-5


def coarse_space_size(n_atoms: int) -> int:
    """Columns kept in a coarse space of an ``n_atoms`` system (memory-bounded)."""
    # well below N: with nearly as many columns as dimensions the directions are dependent and
    # the coarse inverse amplifies rounding errors
    return max(1, min(COARSE_SPACE_MAX, COARSE_SPACE_ENTRIES // max(n_atoms, 1), n_atoms // 4))


class QeqConvergenceError(RuntimeError):
    """The conjugate-gradient Qeq solve did not reach its tolerance."""


@dataclasses.dataclass
class QeqInfo:
    """Diagnostics of a Qeq solve: solver used, iterations, final relative residual, and the
    electrostatic potential φ (eV/e, [N]) of the solved charges, differentiable like the energy (lets a
    caller split the energy per atom, χᵢqᵢ + ½Jᵢqᵢ² + ½qᵢφᵢ, without another Coulomb evaluation)."""

    solver: str
    iterations: int
    residual: float
    parameters: CoulombParameters
    potential: torch.Tensor | None = None


@dataclasses.dataclass
class QeqWarmStart:
    r"""What the Qeq solves of one MD step leave for the next: starting points and a coarse space.

    Updated by every :func:`qeq` call it is passed to (the calculator keeps one per system):

    - **Starting points.** The charges and the adjoint (backward) solutions of the last
      :data:`HISTORY` steps, with their positions. The next solve starts from
      :math:`q_n + \sum_j a_j (q_{n-j} - q_{n-j-1})`, with the :math:`a_j` fitted by least squares
      so that the same combination of the stored positions predicts the new positions. On a
      smooth MD trajectory this is a polynomial extrapolation; for uncorrelated moves the fit
      gives :math:`a \approx 0`, i.e. the last solution.
    - **Coarse space.** The (normalised) search directions of the recent solves, charge and adjoint
      solves alike (one matrix H serves both), with their products with H, up to
      :func:`coarse_space_size` columns. They span the smooth, slowly converging modes, which a
      two-level preconditioner then inverts directly (``_HardnessOperator._two_level``).

    Any starting point and any coarse space give the same result to the solver tolerance; close
    ones save iterations.
    """

    steps: list = dataclasses.field(default_factory=list)
    coarse_space: tuple | None = None
    parameters: dict = dataclasses.field(default_factory=dict)

    def coulomb_parameters(self, positions, cell, pbc, sigma, method, accuracy) -> CoulombParameters:
        """The Coulomb parameters tuned at the first call, reused while the cell, periodicity,
        method, accuracy, number of atoms and range of widths stay the same (MD at fixed cell): they
        remain valid for any positions, save the tuning, and keep the energy surface of a run
        free of the small steps that retuning at every step would put in it."""
        key = (
            None if cell is None else tuple(cell.detach().reshape(-1).tolist()), pbc, method, accuracy,
            positions.shape[0],
            None if sigma is None else (float(sigma.detach().min()), float(sigma.detach().max())),
        )
        if key not in self.parameters:
            self.parameters.clear()
            self.parameters[key] = tune(positions, cell, pbc, sigma, method, accuracy)
        return self.parameters[key]

    @property
    def charges(self) -> torch.Tensor | None:
        """``[N]`` charges (e) of the last solve."""
        return self.steps[-1]["charges"] if self.steps else None

    @property
    def adjoint(self) -> torch.Tensor | None:
        """``[N]`` solution of the last adjoint solve (forces of a model whose energy depends on the
        charges beyond the Qeq energy)."""
        return self.steps[-1].get("adjoint") if self.steps else None

    def predict(self, key: str, positions: torch.Tensor, steps: list | None = None) -> torch.Tensor | None:
        """Extrapolated ``key`` (``"charges"`` or ``"adjoint"``) at ``positions`` from ``steps``
        (default: all stored), or ``None`` when nothing matching is stored."""
        steps = self.steps if steps is None else steps
        usable = []
        for step in reversed(steps):  # newest first, stop at the first gap
            if key not in step or step["positions"].shape != positions.shape:
                break
            usable.append(step)
        if not usable:
            return None
        values = [step[key] for step in usable]
        if len(usable) == 1:
            return values[0]
        x = [step["positions"] for step in usable]
        moves = torch.stack([(x[j] - x[j + 1]).reshape(-1) for j in range(len(x) - 1)], dim=1)
        target = (positions.detach().to(moves.dtype) - x[0]).reshape(-1, 1)
        coefficients = torch.linalg.lstsq(moves, target).solution.squeeze(-1)
        if not torch.isfinite(coefficients).all():
            return values[0]
        coefficients = coefficients.clamp(-3.0, 3.0)
        prediction = values[0]
        for j, a in enumerate(coefficients.tolist()):
            prediction = prediction + a * (values[j] - values[j + 1])
        return prediction

    def record(self, positions: torch.Tensor, charges: torch.Tensor):
        """Start the entry of a new step with its positions and charges."""
        self.steps.append({"positions": positions.detach().clone(), "charges": charges.detach()})
        del self.steps[:-HISTORY]

    def extend_space(self, directions: list):
        """Append the ``(p, Hp)`` pairs of a solve to the coarse space, newest kept (at most
        :func:`coarse_space_size` columns). The space is stored as ``(W, HW, WᵀHW)``; the small
        matrix is updated block by block, so each solve adds O(N·k·k_new) work, not O(N·k²)."""
        if not directions:
            return
        norms = torch.stack([torch.linalg.norm(p) for p, _ in directions]).clamp_min(1e-30)
        w_new, aw_new = (torch.stack(t, dim=1) / norms for t in zip(*directions))
        old = self.coarse_space
        if old is not None and old[0].shape[0] == w_new.shape[0] and old[0].dtype == w_new.dtype:
            w_old, aw_old, e_old = old
            e = torch.cat([
                torch.cat([e_old, (w_old.T @ aw_new).double()], dim=1),
                torch.cat([(w_new.T @ aw_old).double(), (w_new.T @ aw_new).double()], dim=1),
            ])
            w_new, aw_new = torch.cat([w_old, w_new], dim=1), torch.cat([aw_old, aw_new], dim=1)
        else:
            e = (w_new.T @ aw_new).double()
        keep = coarse_space_size(w_new.shape[0])
        self.coarse_space = (w_new[:, -keep:], aw_new[:, -keep:], e[-keep:, -keep:])

    def space(self, n: int):
        """The stored ``(W, HW, WᵀHW)`` for a system of ``n`` atoms, or ``None``."""
        space = self.coarse_space
        return space if space is not None and space[0].shape[0] == n else None


class _HardnessOperator:
    """Detached linear map ``q -> H q`` (eV/e) with its constrained inverse."""

    def __init__(
        self,
        coulomb: CoulombOperator,
        hardness,
        sigma,
        solver,
        tol,
        max_iter,
        scale,
        positions=None,
        cell=None,
        preconditioner="auto",
    ):
        self.coulomb = coulomb
        self.solver = solver
        # iterations in float32 when the tolerance allows (see FLOAT32_SOLVE_TOL)
        self.dtype = torch.float32 if solver == "cg" and tol > FLOAT32_SOLVE_TOL else hardness.dtype
        self.hardness = hardness.to(self.dtype)
        self.tol = tol
        self.max_iter = max_iter
        self.scale = scale
        self.matrix = None
        self.warm_start = None
        self.deflation = None
        if preconditioner not in ("auto", "mesh", "jacobi"):
            raise ValueError(f"unknown preconditioner {preconditioner!r}; use 'auto', 'mesh' or 'jacobi'")
        if preconditioner == "auto":
            preconditioner = "mesh" if cell is not None and solver == "cg" else "jacobi"
        if solver == "dense":
            self.preconditioner = self.p_ones = None
        elif preconditioner == "mesh":
            slab = coulomb.slab is not None
            padded = coulomb.slab.cell if slab else cell
            self.preconditioner = CoarseMeshPreconditioner(positions, padded, hardness, sigma, mean_field=not slab)
        else:  # "jacobi"
            diag = hardness.clone()
            if sigma is not None:
                diag = diag + COULOMB_CONSTANT * self_coefficient(sigma, None)
            self.preconditioner = JacobiPreconditioner(diag)
        if self.preconditioner is not None:
            self.preconditioner = self.preconditioner.astype(self.dtype)
            self.p_ones = self.preconditioner(torch.ones_like(self.hardness))
        # the detached matrix-vector product of the iterations, tables cast once
        self.coulomb_product = coulomb.detached(self.dtype) if solver == "cg" else None
        if solver == "dense":
            n = hardness.shape[0]
            eye = torch.eye(n, dtype=hardness.dtype, device=hardness.device)
            # columns in chunks: the pair sum holds [pairs, chunk] temporaries
            h = torch.cat([coulomb(eye[:, k : k + 256]) for k in range(0, n, 256)], dim=1)
            h = 0.5 * (h + h.T) + torch.diag(hardness)
            kkt = torch.zeros(n + 1, n + 1, dtype=h.dtype, device=h.device)
            kkt[:n, :n] = h
            kkt[:n, n] = 1.0
            kkt[n, :n] = 1.0
            self.matrix = h
            self.kkt_lu = torch.linalg.lu_factor(kkt)

    def __call__(self, q):
        """``H q`` (eV/e) for ``q`` ``[N]`` (e), in the solver's dtype."""
        q = q.to(self.dtype)
        with torch.no_grad():  # detached even inside a backward pass that builds a graph
            if self.coulomb_product is not None:
                return self.coulomb_product(q) + self.hardness * q
            return self.coulomb(q) + self.hardness * q

    def _precondition(self, r):
        z = self.preconditioner(r)
        return z - (z.sum() / self.p_ones.sum()) * self.p_ones

    def set_deflation(self, space: tuple | None):
        """Use the coarse space ``(W, HW, E = WᵀHW)`` of a :class:`QeqWarmStart` (zero-sum columns
        ``W``, products ``HW`` projected, possibly from earlier geometries) in the preconditioner
        (see :meth:`_two_level`).

        ``E`` is symmetrised and shifted by the first of :data:`COARSE_SPACE_SHIFTS` (times its
        largest diagonal entry) for which its Cholesky factorisation succeeds: CG directions lose conjugacy over long solves
        (more so in float32) and become nearly dependent, and inverting ``E`` exactly across them
        would amplify rounding errors; the shift only damps those directions."""
        self.deflation = None
        if space is None:
            return
        w, aw, coarse = space
        coarse = 0.5 * (coarse + coarse.T)
        eye = torch.eye(len(coarse), dtype=coarse.dtype)
        largest = float(coarse.diagonal().max())
        # products from earlier geometries can leave E slightly indefinite: larger shifts until
        # the factorisation succeeds
        for relative_shift in COARSE_SPACE_SHIFTS:
            factor, info = torch.linalg.cholesky_ex(coarse + relative_shift * largest * eye)
            if int(info) == 0:
                self.deflation = (w.to(self.dtype), aw.to(self.dtype), factor)
                return

    def _coarse_inverse(self, v):
        return torch.cholesky_solve(v.double().unsqueeze(-1), self.deflation[2]).squeeze(-1).to(self.dtype)

    def _two_level(self, r):
        """Two-level (balancing) preconditioner ``z = Xᵀ M₀⁻¹ X r + W E⁻¹ Wᵀ r`` with ``M₀`` the
        one-level preconditioner, ``E = Wᵀ(HW)`` and ``X = I − (HW) E⁻¹ Wᵀ``. On the span of ``W``
        it inverts ``H`` exactly (the smooth, slowly converging modes that earlier solves already
        found), elsewhere it acts like ``M₀``. It is symmetric positive definite for any stored
        ``HW`` with a positive definite ``E``, so products from earlier MD steps cost iterations,
        never accuracy."""
        w, aw, _ = self.deflation
        c = self._coarse_inverse(w.T @ r)
        z = self._precondition(r - aw @ c)
        return z - w @ self._coarse_inverse(aw.T @ z) + w @ c

    def solve(self, rhs, total, initial=None, scale=None, record=None):
        """Minimise ``½ qᵀHq - rhsᵀq`` with ``Σq = total``; returns ``(q, iters, residual)``.

        CG stops when the projected residual is below ``tol * scale`` (default: the scale
        of the main solve). With a list ``record``, the search directions and their products
        with ``H`` are appended to it as ``(p, Hp)`` pairs (a coarse space for later solves).
        """
        scale = self.scale if scale is None else scale
        n = rhs.shape[0]
        out_dtype = rhs.dtype
        rhs = rhs.to(self.dtype)
        if initial is not None:
            initial = initial.to(self.dtype)
        if self.solver == "dense":
            b = torch.cat([rhs, rhs.new_tensor([total])])
            x = torch.linalg.lu_solve(*self.kkt_lu, b.unsqueeze(-1)).squeeze(-1)
            q = x[:n]
            q = q + (total - q.sum()) / n
            res = rhs - self.matrix @ q
            res = res - res.mean()
            return q, 1, float(torch.linalg.norm(res)) / scale
        q = torch.full_like(rhs, total / n) if initial is None else initial + (total - initial.sum()) / n
        r = rhs - self(q)
        r = r - r.mean()
        target = self.tol * scale
        norm = float(torch.linalg.norm(r))
        if norm <= target:
            q = q.to(out_dtype)
            return q + (total - q.sum()) / n, 0, norm / scale
        precondition = self._precondition if self.deflation is None else self._two_level
        z = precondition(r)
        p = z
        rz = torch.dot(r, z)
        for iteration in range(1, self.max_iter + 1):
            ap = self(p)
            if record is not None:
                record.append((p, ap - ap.mean()))
            alpha = rz / torch.dot(p, ap)
            q = q + alpha * p
            r = r - alpha * ap
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

    def constrained_inverse(self, b):
        """``y = S b``: ``H y = b - c 1`` with ``Σy = 0`` (b is projected first).

        Solved to ``tol`` relative to ``|b|``.
        """
        b = b - b.mean()
        norm = float(torch.linalg.norm(b))
        if norm == 0.0:
            return torch.zeros_like(b)
        warm = self.warm_start
        if warm is None or self.solver != "cg":
            y, _, _ = self.solve(b, 0.0, scale=norm)
            return y - y.mean()
        # start from the earlier steps' adjoints extrapolated to this step's positions, precondition
        # with the coarse space of the earlier solves (this step's charge solve included)
        initial = warm.predict("adjoint", warm.steps[-1]["positions"], warm.steps[:-1])
        if initial is None:
            initial = warm.adjoint  # an earlier backward pass of this same step
        self.set_deflation(warm.space(b.shape[0]))
        record = []
        y, _, _ = self.solve(b, 0.0, initial=None if initial is None else initial.to(b.dtype), scale=norm,
                             record=record)
        y = y - y.mean()
        warm.steps[-1]["adjoint"] = y.detach()
        warm.extend_space(record)
        return y


class _ConstrainedSolve(torch.autograd.Function):
    """``y = S b`` with the backward ``S g`` (S is symmetric); twice differentiable in b.

    With ``skip=True`` the forward value is returned as zero without solving (used when
    ``b`` is known to be below the solver tolerance); the backward always solves.
    """

    @staticmethod
    def forward(ctx, b, operator, skip):
        ctx.operator = operator
        if skip:
            return torch.zeros_like(b)
        return operator.constrained_inverse(b.detach())

    @staticmethod
    def backward(ctx, grad):
        return _ConstrainedSolve.apply(grad, ctx.operator, False), None, None


class _NewtonCorrection(torch.autograd.Function):
    """``S r`` for a residual ``r`` that is zero up to the solver tolerance.

    The forward value is returned as zero (it is below the tolerance); the backward is the
    exact adjoint solve ``S g``. An incoming gradient no larger than ``|r|`` (the energy's
    own ``-r/2`` term in a force computation) only contributes at the solver tolerance:
    its solve is skipped in value but kept in the graph, so second derivatives stay exact.
    """

    @staticmethod
    def forward(ctx, r, operator):
        ctx.operator = operator
        ctx.r_norm = float(torch.linalg.norm(r))
        return torch.zeros_like(r)

    @staticmethod
    def backward(ctx, grad):
        g = grad.detach()
        skip = float(torch.linalg.norm(g - g.mean())) <= ctx.r_norm
        return _ConstrainedSolve.apply(grad, ctx.operator, skip), None


def qeq(
    positions: torch.Tensor,
    chi: torch.Tensor,
    hardness: torch.Tensor,
    sigma: torch.Tensor | None,
    total_charge: float = 0.0,
    cell: torch.Tensor | None = None,
    pbc=None,
    method: str = "auto",
    accuracy: float = 1e-6,
    initial_charges: torch.Tensor | None = None,
    solver: str = "auto",
    tol: float | None = None,
    max_iter: int = 500,
    parameters: CoulombParameters | None = None,
    preconditioner: str = "auto",
    return_info: bool = False,
    warm_start: QeqWarmStart | None = None,
):
    r"""Equilibrated charges (e) and the minimised Qeq energy (eV).

    Minimises :math:`\sum_i(\chi_i q_i + \tfrac12 J_i q_i^2) + E_{\mathrm{coul}}(q)` subject
    to :math:`\sum_i q_i` = ``total_charge``. Differentiable (implicit differentiation, see
    the module docstring) with respect to ``chi``, ``hardness``, ``sigma``, ``positions``
    and ``cell``, including second derivatives of the energy.

    :param positions: ``[N, 3]`` (Å).
    :param chi: ``[N]`` electronegativities (eV/e).
    :param hardness: ``[N]`` hardnesses :math:`J_i` (eV/e²); with the Coulomb matrix they
        must make the problem positive definite (positive values are safe).
    :param sigma: ``[N]`` Gaussian widths (Å), or ``None`` for point charges.
    :param total_charge: net charge Q (e); periodic cells get a neutralising background.
    :param cell: ``[3, 3]`` cell vectors as rows (Å) or ``None``. :param pbc: three bools.
    :param method: Coulomb strategy, ``"auto"``, ``"direct"``, ``"ewald"``, ``"pme"``,
        ``"p3m"``. :param accuracy: relative accuracy of the Coulomb operator.
    :param initial_charges: ``[N]`` warm start for CG (e.g. the previous MD step).
    :param solver: ``"auto"`` (dense up to :data:`DENSE_MAX_ATOMS` atoms), ``"dense"`` or
        ``"cg"``.
    :param tol: CG tolerance on the projected residual :math:`\|P(Hq + \chi)\|`
        relative to its value at the uniform start :math:`q = Q/N` (``P`` removes the
        mean); default ``accuracy``: the charges, and through the implicit gradients the
        forces, then carry a relative error of about ``accuracy`` like the Coulomb sums,
        while the energy, stationary in q, is accurate to its square.
    :param max_iter: CG iteration limit; :class:`QeqConvergenceError` beyond it.
    :param parameters: frozen Coulomb parameters (see :func:`~.tuning.tune`).
    :param preconditioner: CG preconditioner: ``"auto"`` (``"mesh"`` for periodic systems,
        else ``"jacobi"``; slabs with a recycled coarse space from ``warm_start`` use
        ``"jacobi"``), ``"mesh"`` (coarse-mesh Woodbury, see :mod:`.preconditioner`) or
        ``"jacobi"``.
    :param return_info: also return a :class:`QeqInfo`.
    :param warm_start: a :class:`QeqWarmStart` carried from one call to the next (MD), used
        and updated by the iterative solver (the dense one needs none): its extrapolated charges
        start the CG solve (unless ``initial_charges`` is given), its extrapolated adjoints start
        the backward solve, and the search directions of earlier solves precondition both. Any
        starting point gives the same result to the tolerance; a close one saves iterations.
    :return: ``(charges [N] in e, energy in eV)`` (and ``info``).
    """
    cell, pbc = check_system(positions, cell, pbc, sigma, method if parameters is None else parameters.method)
    n = positions.shape[0]
    for name, value in (("chi", chi), ("hardness", hardness)):
        if not isinstance(value, torch.Tensor) or value.shape != (n,):
            raise ValueError(f"{name} must be a tensor of shape [N] = [{n}]")
        if not torch.isfinite(value).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if initial_charges is not None and (
        initial_charges.shape != (n,) or not torch.isfinite(initial_charges).all()
    ):
        raise ValueError("initial_charges must be a finite tensor of shape [N]")
    if solver == "auto":
        solver = "dense" if n <= DENSE_MAX_ATOMS else "cg"
    if solver not in ("dense", "cg"):
        raise ValueError(f"unknown solver {solver!r}; use 'auto', 'dense' or 'cg'")
    tol = accuracy if tol is None else tol
    total_charge = float(total_charge)

    def detach(t):
        return None if t is None else t.detach()

    inputs = [positions, chi, hardness, sigma, cell]
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
    if parameters is None and warm_start is not None:
        parameters = warm_start.coulomb_parameters(positions, cell, pbc, sigma, method, accuracy)
    # one operator serves both: applied under no_grad by the solver, differentiably below
    coulomb = CoulombOperator(positions, cell, pbc, sigma, method, accuracy, parameters)

    if solver != "cg":
        warm_start = None  # the dense solver needs no starting point
    coarse_space = None if warm_start is None else warm_start.space(n)
    if preconditioner == "auto" and coarse_space is not None and not all(pbc):
        # slabs: the coarse mesh of the padded cell helps little, the recycled coarse space a lot;
        # with it, Jacobi takes as few iterations (2254-atom BTA/Cu slab in Langevin MD with
        # bta_cu.pt: 7 and 9 per step for charges and adjoint, against 7 and 10) at less cost
        preconditioner = "jacobi"

    with torch.no_grad():
        chi0, hard0 = chi.detach(), hardness.detach()
        operator = _HardnessOperator(
            coulomb,
            hard0,
            detach(sigma),
            solver,
            tol,
            max_iter,
            1.0,
            detach(positions),
            detach(cell),
            preconditioner,
        )
        # residual scale: the projected gradient at the uniform cold start q = Q/N
        cold = chi0 + (operator(torch.ones_like(chi0)) * (total_charge / n) if total_charge else 0.0)
        scale = float(torch.linalg.norm(cold - cold.mean()))
        operator.scale = scale if scale > 0 else 1.0
        if initial_charges is None and warm_start is not None:
            initial_charges = warm_start.predict("charges", positions)
        init = None if initial_charges is None else initial_charges.detach().to(chi0.dtype)
        record = None
        if warm_start is not None:
            operator.set_deflation(coarse_space)
            record = []
        q_star, iterations, residual = operator.solve(-chi0, total_charge, init, record=record)
        if warm_start is not None:
            warm_start.record(positions, q_star)
            warm_start.extend_space(record)
            operator.warm_start = warm_start

    phi = coulomb(q_star)
    if needs_grad:
        gradient = chi + hardness * q_star + phi
        r = -(gradient - gradient.mean())
        delta = _NewtonCorrection.apply(r, operator)
        charges = q_star + delta
        lagrangian = (chi * q_star).sum() + 0.5 * (hardness * q_star**2).sum() + 0.5 * (q_star * phi).sum()
        energy = lagrangian - 0.5 * (r * delta).sum()
    else:
        charges = q_star
        energy = (chi0 * q_star).sum() + 0.5 * (hard0 * q_star**2).sum() + 0.5 * (q_star * phi).sum()
    if return_info:
        return charges, energy, QeqInfo(solver, iterations, residual, coulomb.parameters, phi)
    return charges, energy
