r"""What the Qeq solves of one MD step leave for the next.

A :class:`QeqWarmStart` composes three independent parts:

- :class:`~.parameter_cache.CoulombParameterCache`: the Coulomb parameters, tuned once per cell;
- :class:`~.history.SolutionHistory`: the charges (e) and adjoint solutions of the last steps
  with their positions (Å), extrapolated to start the next solves;
- :class:`~.coarse_space.CoarseSpace`: the search directions of the recent solves, which
  precondition the next ones (two-level preconditioner of :mod:`.preconditioning`);

and keeps :class:`SolveStats`, the iterations and residuals of the solves it took part in.
"""

import dataclasses

import torch

from ..tuning import CoulombParameters
from .coarse_space import CoarseSpace
from .history import SolutionHistory
from .parameter_cache import CoulombParameterCache

#: Most entries kept in each list of a :class:`SolveStats` (oldest dropped).
STATS_KEPT = 100_000


@dataclasses.dataclass
class SolveStats:
    """Iterations and final relative residuals of the CG solves that used a warm start, oldest
    first (the last :data:`STATS_KEPT` of each): one charge solve per :func:`~.api.qeq` call, one
    adjoint solve per backward pass through it (e.g. one per force evaluation)."""

    charge_iterations: list[int] = dataclasses.field(default_factory=list)
    charge_residuals: list[float] = dataclasses.field(default_factory=list)
    adjoint_iterations: list[int] = dataclasses.field(default_factory=list)
    adjoint_residuals: list[float] = dataclasses.field(default_factory=list)

    def add(self, kind: str, iterations: int, residual: float):
        """Log a ``"charge"`` or ``"adjoint"`` solve."""
        for name, value in (("iterations", iterations), ("residuals", residual)):
            values = getattr(self, f"{kind}_{name}")
            values.append(value)
            del values[:-STATS_KEPT]


class QeqWarmStart:
    r"""What the Qeq solves of one MD step leave for the next: parameters, starting points and a
    coarse space.

    Updated by every CG :func:`~.api.qeq` call it is passed to (the calculator keeps one per
    system):

    - **Parameters.** The Coulomb parameters tuned at the first call, reused while the cell,
      periodicity, method, accuracy, number of atoms and range of widths stay the same.
    - **Starting points.** The charges and the adjoint (backward) solutions of the last
      :data:`~.history.HISTORY` steps, with their positions, extrapolated along the trajectory
      (:mod:`.history`).
    - **Coarse space.** The search directions of the recent solves with their products with H, up
      to :func:`~.coarse_space.coarse_space_size` columns (:mod:`.coarse_space`).

    Any starting point and any coarse space give the same result to the solver tolerance; close
    ones save iterations.

    :param steps: stored steps to start from (see :class:`~.history.SolutionHistory`).
    :param coarse_space: stored ``(W, HW, WᵀHW)`` to start from. :param parameters: stored
        parameter cache entries to start from.
    :param extrapolate: extrapolate the starting points; ``False``: start from the last solution.
    :param recycle: keep and use a coarse space; ``False``: one-level preconditioner only.

    :attr:`stats` (:class:`SolveStats`) lists the iterations and residuals of the charge and
    adjoint solves, in order.
    """

    def __init__(
        self,
        steps: list | None = None,
        coarse_space: tuple | None = None,
        parameters: dict | None = None,
        *,
        extrapolate: bool = True,
        recycle: bool = True,
    ):
        self.parameter_cache = CoulombParameterCache(parameters)
        self.history = SolutionHistory(steps, extrapolate)
        self.coarse = CoarseSpace(coarse_space)
        self.recycle = recycle
        self.stats = SolveStats()

    @property
    def steps(self) -> list:
        """The stored steps, oldest first (see :class:`~.history.SolutionHistory`)."""
        return self.history.steps

    @property
    def coarse_space(self) -> tuple | None:
        """The stored ``(W, HW, WᵀHW)``, or ``None``."""
        return self.coarse.matrices

    @property
    def parameters(self) -> dict:
        """The parameter cache entries."""
        return self.parameter_cache.entries

    @property
    def charges(self) -> torch.Tensor | None:
        """``[N]`` charges (e) of the last solve."""
        return self.history.charges

    @property
    def adjoint(self) -> torch.Tensor | None:
        """``[N]`` solution of the last adjoint solve (forces of a model whose energy depends on the
        charges beyond the Qeq energy)."""
        return self.history.adjoint

    def coulomb_parameters(self, positions, cell, pbc, sigma, method, accuracy) -> CoulombParameters:
        """The Coulomb parameters of this run (see :class:`~.parameter_cache.CoulombParameterCache`)."""
        return self.parameter_cache(positions, cell, pbc, sigma, method, accuracy)

    def predict(self, key: str, positions: torch.Tensor, steps: list | None = None) -> torch.Tensor | None:
        """Extrapolated ``key`` (``"charges"`` or ``"adjoint"``) at ``positions`` from ``steps``
        (default: all stored), or ``None`` when nothing matching is stored."""
        return self.history.predict(key, positions, steps)

    def record(self, positions: torch.Tensor, charges: torch.Tensor):
        """Start the entry of a new step with its positions and charges."""
        self.history.record(positions, charges)

    def extend_space(self, directions: list):
        """Append the ``(p, Hp)`` pairs of a solve to the coarse space (nothing without ``recycle``)."""
        if self.recycle:
            self.coarse.extend(directions)

    def space(self, n: int, constraints=None) -> tuple | None:
        """The stored ``(W, HW, WᵀHW)`` for a system of ``n`` atoms, or ``None``.

        With fragment ``constraints`` (:class:`~.constraints.ChargeConstraints`) a stored space whose
        columns do not sum to zero over each fragment (solves of other fragments) is dropped: it
        would move charge between fragments. Any column of a space is zero-sum overall, so the total
        charge alone accepts every space."""
        space = self.coarse.get(n) if self.recycle else None
        if space is not None and constraints is not None and not constraints.single \
                and not constraints.holds_for_columns(space[0]):
            self.coarse = CoarseSpace(None)
            return None
        return space

    def charge_start(self, positions: torch.Tensor) -> torch.Tensor | None:
        """Starting point ``[N]`` (e) of the charge solve at ``positions``, or ``None``."""
        return self.history.predict("charges", positions)

    def adjoint_start(self) -> torch.Tensor | None:
        """Starting point ``[N]`` of an adjoint solve of the last step, or ``None``."""
        return self.history.adjoint_start()

    def add_charge_solve(self, positions, charges, directions: list, iterations: int, residual: float):
        """Record a charge solve: a new step, its search directions, its statistics."""
        self.history.record(positions, charges)
        self.extend_space(directions)
        self.stats.add("charge", iterations, residual)

    def add_adjoint_solve(self, adjoint, directions: list, iterations: int, residual: float):
        """Record an adjoint solve of the last step: its solution, search directions, statistics."""
        self.history.record_adjoint(adjoint)
        self.extend_space(directions)
        self.stats.add("adjoint", iterations, residual)
