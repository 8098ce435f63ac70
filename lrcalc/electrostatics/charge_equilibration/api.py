r"""The public Qeq entry point :func:`qeq` and its result record :class:`QeqInfo`.

:func:`qeq` builds the Coulomb operator once, solves for the charges without autograd
(:mod:`.dense` or :mod:`.conjugate_gradient`), applies the operator once more differentiably to
get the potential :math:`\phi` (eV/e) of the solution, and returns the charges (e) and energy

.. math::

    E = \sum_i \big(\chi_i q_i + \tfrac12 J_i q_i^2 + \tfrac12 q_i \phi_i\big) \quad (\text{eV})

with implicit gradients (:mod:`.implicit`) when an input requires grad. The charges obey the
total charge of the structure, or with ``fragments`` the total of each fragment (:mod:`.constraints`).
"""

import dataclasses

import torch

from ..coulomb import CoulombOperator
from ..tuning import CoulombParameters
from ..validation import check_system
from .constraints import ChargeConstraints
from .conjugate_gradient import ConjugateGradientSolver, QeqConvergenceError
from .dense import DenseSolver
from .implicit import newton_step
from .preconditioning import PRECONDITIONERS
from .warm_start import QeqWarmStart

#: Largest system for which ``solver="auto"`` uses the dense solver.
DENSE_MAX_ATOMS = 400


@dataclasses.dataclass
class QeqInfo:
    """What a Qeq solve did, and the potential of its charges.

    :param solver: ``"dense"`` or ``"cg"``.
    :param iterations: CG iterations of the charge solve (0 for the dense solver, or for a CG start
        already within the tolerance).
    :param residual: final relative residual of the charge solve: the projected gradient
        :math:`|P(Hq + \\chi)|` over its value at the uniform start (:math:`q = Q/N`; with
        fragments, each fragment's total spread over its atoms); for CG computed in float64 from
        the returned potential.
    :param parameters: the Coulomb parameters used.
    :param potential: electrostatic potential φ (eV/e, [N]) of the solved charges, differentiable
        like the energy (lets a caller split the energy per atom, χᵢqᵢ + ½Jᵢqᵢ² + ½qᵢφᵢ, without
        another Coulomb evaluation).
    :param adjoint_iterations: iterations of each adjoint (backward) solve, filled in as backward
        passes run (empty until then; 0 for the dense solver). Only gradients that reach the
        charges need one: the gradient of the Qeq energy alone (stationary in q) makes none.
    :param adjoint_residuals: final relative residuals of those solves, relative to the norm of
        the projected incoming gradient (for CG the recursive estimate of the last cycle when that
        cycle met the tolerance, see :mod:`.conjugate_gradient`).
    :param preconditioner: the one-level preconditioner the charge solve ended with (``"mesh"``,
        ``"jacobi"``; ``"none"`` for the dense solver): a coarse-mesh preconditioner found
        indefinite during the iterations is replaced by Jacobi (see :mod:`.conjugate_gradient`), and
        so is one asked for with more than
        :data:`~.preconditioning.MESH_MAX_FRAGMENTS` fragments (see :mod:`.preconditioning`).
    :param num_fragments: constraints of the solve: 1 for the total charge alone, else the number
        of fragments whose totals were kept.
    """

    solver: str
    iterations: int
    residual: float
    parameters: CoulombParameters
    potential: torch.Tensor | None = None
    adjoint_iterations: list[int] = dataclasses.field(default_factory=list)
    adjoint_residuals: list[float] = dataclasses.field(default_factory=list)
    preconditioner: str = "none"
    num_fragments: int = 1


def _check_inputs(n, chi, hardness, initial_charges):
    for name, value in (("chi", chi), ("hardness", hardness)):
        if not isinstance(value, torch.Tensor) or value.shape != (n,):
            raise ValueError(f"{name} must be a tensor of shape [N] = [{n}]")
        if not torch.isfinite(value).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if bool((hardness <= 0).any()):
        worst = int(torch.argmin(hardness))
        raise QeqConvergenceError(
            f"hardness J[{worst}] = {float(hardness[worst]):.3g} eV/e² is not positive "
            f"({int((hardness <= 0).sum())} of {n} atoms): the Qeq energy has no unique minimum"
        )
    if initial_charges is not None and (
        initial_charges.shape != (n,) or not torch.isfinite(initial_charges).all()
    ):
        raise ValueError("initial_charges must be a finite tensor of shape [N]")


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
    fragments: torch.Tensor | None = None,
    fragment_charges: torch.Tensor | None = None,
):
    r"""Equilibrated charges (e) and the minimised Qeq energy (eV).

    Minimises :math:`\sum_i(\chi_i q_i + \tfrac12 J_i q_i^2) + E_{\mathrm{coul}}(q)` subject
    to :math:`\sum_i q_i` = ``total_charge``, or with ``fragments`` to
    :math:`\sum_{i\in f} q_i` = ``fragment_charges[f]`` for every fragment f (:mod:`.constraints`:
    no charge moves between fragments, at any distance). Differentiable (implicit differentiation, see
    :mod:`.implicit`) with respect to ``chi``, ``hardness``, ``sigma``, ``positions``
    and ``cell``, including second derivatives of the energy.

    :param positions: ``[N, 3]`` (Å).
    :param chi: ``[N]`` electronegativities (eV/e).
    :param hardness: ``[N]`` hardnesses :math:`J_i` (eV/e²); with the Coulomb matrix they
        must make the problem positive definite (positive values are safe).
    :param sigma: ``[N]`` Gaussian widths (Å), or ``None`` for point charges.
    :param total_charge: net charge Q (e); periodic cells get a neutralising background.
        With fragments it must equal the sum of ``fragment_charges``.
    :param cell: ``[3, 3]`` cell vectors as rows (Å) or ``None``. :param pbc: three bools.
    :param method: Coulomb strategy, ``"auto"``, ``"direct"``, ``"ewald"``, ``"pme"``,
        ``"p3m"``. :param accuracy: relative accuracy of the Coulomb operator.
    :param initial_charges: ``[N]`` warm start for CG (e.g. the previous MD step).
    :param solver: ``"auto"`` (dense up to :data:`DENSE_MAX_ATOMS` atoms), ``"dense"`` or
        ``"cg"``.
    :param tol: CG tolerance on the projected residual :math:`\|P(Hq + \chi)\|`
        relative to its value at the uniform start :math:`q = Q/N` (``P`` removes the
        mean, of each fragment with fragments); default ``accuracy``: the charges, and through
        the implicit gradients the forces, then carry a relative error of about ``accuracy``
        like the Coulomb sums, while the energy, stationary in q, is accurate to its square. Above
        :data:`~.conjugate_gradient.FLOAT32_SOLVE_TOL` the iterations run in float32.
    :param max_iter: CG iteration limit; :class:`~.conjugate_gradient.QeqConvergenceError` beyond it.
    :param parameters: frozen Coulomb parameters (see :func:`~lrcalc.electrostatics.tune`).
    :param preconditioner: CG preconditioner: ``"auto"`` (``"mesh"`` for periodic systems,
        else ``"jacobi"``; slabs with a recycled coarse space from ``warm_start`` use
        ``"jacobi"``), ``"mesh"`` (coarse-mesh Woodbury, see :mod:`..preconditioner`) or
        ``"jacobi"``.
    :param return_info: also return a :class:`QeqInfo`: solver, iterations and residual of the
        charge solve, the potential, and the adjoint solves of later backward passes.
    :param warm_start: a :class:`QeqWarmStart` carried from one call to the next (MD), used
        and updated by the iterative solver (the dense one needs none): its extrapolated charges
        start the CG solve (unless ``initial_charges`` is given), its extrapolated adjoints start
        the backward solve, and the search directions of earlier solves precondition both; its
        ``stats`` log the iterations of both. Any starting point gives the same result to the
        tolerance; a close one saves iterations.
    :param fragments: ``[N]`` integer fragment index of each atom, 0 … F−1 (every fragment
        non-empty), or ``None``: the total-charge constraint alone (a single fragment of all atoms
        gives the same charges and energy).
    :param fragment_charges: ``[F]`` total charge of each fragment (e); required with
        ``fragments``. Constants: no gradient flows to them.
    :return: ``(charges [N] in e, energy in eV)`` (and ``info``).
    """
    cell, pbc = check_system(positions, cell, pbc, sigma, method if parameters is None else parameters.method)
    n = positions.shape[0]
    _check_inputs(n, chi, hardness, initial_charges)
    if solver == "auto":
        solver = "dense" if n <= DENSE_MAX_ATOMS else "cg"
    if solver not in ("dense", "cg"):
        raise ValueError(f"unknown solver {solver!r}; use 'auto', 'dense' or 'cg'")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"unknown preconditioner {preconditioner!r}; use 'auto', 'mesh' or 'jacobi'")
    tol = accuracy if tol is None else tol
    total_charge = float(total_charge)
    if (fragments is None) != (fragment_charges is None):
        raise ValueError("fragments and fragment_charges go together: give the fragment index of every "
                         "atom and the total charge (e) of every fragment, or neither")
    like = chi.detach()
    if fragments is None:
        constraints = ChargeConstraints.total(n, total_charge, like)
    else:
        constraints = ChargeConstraints.from_fragments(fragments, fragment_charges, total_charge, n, like)

    def detach(t):
        return None if t is None else t.detach()

    inputs = [positions, chi, hardness, sigma, cell]
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)
    if parameters is None and warm_start is not None:
        parameters = warm_start.coulomb_parameters(positions, cell, pbc, sigma, method, accuracy)
    # one operator serves both: applied under no_grad by the solver, differentiably below
    coulomb = CoulombOperator(positions, cell, pbc, sigma, method, accuracy, parameters, checked=True)

    if solver != "cg":
        warm_start = None  # the dense solver needs no starting point
    coarse_space = None if warm_start is None else warm_start.space(n, constraints)
    if preconditioner == "auto" and coarse_space is not None and not all(pbc):
        # slabs: the coarse mesh of the padded cell helps little, the recycled coarse space a lot;
        # with it, Jacobi takes as few iterations (2254-atom BTA/Cu slab in Langevin MD with
        # bta_cu.pt: 7 and 9 per step for charges and adjoint, against 7 and 10) at less cost
        preconditioner = "jacobi"

    # the dense solve uses the operator as a matrix, built once and differentiable: its detached copy
    # is factorised, and the potential of the solution is one product with it
    coulomb_matrix = coulomb.matrix(hardness.dtype) if solver == "dense" else None
    with torch.no_grad():
        chi0, hard0 = chi.detach(), hardness.detach()
        if solver == "dense":
            hardness_solver = DenseSolver(coulomb, hard0, constraints, coulomb_matrix)
        else:
            hardness_solver = ConjugateGradientSolver(
                coulomb, hard0, detach(sigma), tol, max_iter, detach(positions), detach(cell), preconditioner,
                constraints,
            )
        # residual scale: the projected gradient at the uniform cold start (q = Q/N per fragment)
        if constraints.single:
            cold = chi0 + (hardness_solver(torch.ones_like(chi0)) * (total_charge / n) if total_charge else 0.0)
        else:
            totals = constraints.totals
            cold = chi0 + (hardness_solver(constraints.uniform()) if bool((totals != 0).any()) else 0.0)
        scale = float(torch.linalg.norm(constraints.project(cold)))
        hardness_solver.scale = scale if scale > 0 else 1.0
        if initial_charges is None and warm_start is not None:
            initial_charges = warm_start.charge_start(positions)
        init = None if initial_charges is None else initial_charges.detach().to(chi0.dtype)
        record = None
        if warm_start is not None:
            hardness_solver.use_coarse_space(coarse_space)
            record = []
        q_star, iterations, residual = hardness_solver.solve(-chi0, constraints.totals, init, record=record)

    apply_coulomb = coulomb if coulomb_matrix is None else coulomb_matrix.__matmul__
    phi = apply_coulomb(q_star)
    if solver == "cg":
        # CG ended on its recursive residual: the true one comes from this potential at no extra
        # product; should it miss the tolerance, refine from q* (verified) and take the potential again
        with torch.no_grad():
            true_residual = float(torch.linalg.norm(constraints.project(chi0 + hard0 * q_star + phi.detach())))
            residual = true_residual / hardness_solver.scale
        if residual > tol:
            with torch.no_grad():
                q_star, more, residual = hardness_solver.solve(-chi0, constraints.totals, q_star, record=record,
                                                               verify=True)
            iterations += more
            phi = apply_coulomb(q_star)
    if warm_start is not None:
        warm_start.add_charge_solve(positions, q_star, record, iterations, residual)
        hardness_solver.warm_start = warm_start
    if needs_grad:
        charges, energy = newton_step(q_star, phi, chi, hardness, hardness_solver,
                                      apply_hessian=lambda y: hardness * y + apply_coulomb(y))
    else:
        charges = q_star
        energy = (chi0 * q_star).sum() + 0.5 * (hard0 * q_star**2).sum() + 0.5 * (q_star * phi).sum()
    if return_info:
        # the adjoint lists are the solver's: they fill in as backward passes run
        info = QeqInfo(solver, iterations, residual, coulomb.parameters, phi,
                       hardness_solver.adjoint_iterations, hardness_solver.adjoint_residuals,
                       getattr(hardness_solver, "preconditioner_name", "none"), constraints.num_fragments)
        return charges, energy, info
    return charges, energy
