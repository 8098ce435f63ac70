r"""The Qeq matrix :math:`H = k_e A + \operatorname{diag}(J)` (eV/e²) as its solvers see it.

For charges :math:`q` (e), :math:`(Hq)_i = \phi_i + J_i q_i` (eV/e), with :math:`\phi` the
potential of :class:`~lrcalc.electrostatics.CoulombOperator`. Every solver provides

- the product :math:`Hq`;
- the constrained solve: minimise :math:`\tfrac12 q^{\mathsf T} H q - b^{\mathsf T} q` (eV) with
  :math:`C^{\mathsf T} q = Q` (the fragment totals of :mod:`.constraints`; one fragment: the total
  charge), i.e. :math:`Hq = b + C\mu` (b and μ in eV/e);
- the constrained inverse :math:`y = S b` of the implicit gradients: :math:`Hy = b - Cc`
  with :math:`C^{\mathsf T} y = 0` (b in eV/e, y in e), the adjoint solve of a backward pass.

All of them act on detached tensors; derivatives come from :mod:`.implicit`. Residuals are
reported relative to a scale (eV/e): :attr:`HardnessSolver.scale` for the charge solve,
:math:`|Pb|` for the adjoint solve (``P`` removes each fragment's mean).
"""

import abc

import torch

from .constraints import ChargeConstraints


class HardnessSolver(abc.ABC):
    """Detached linear map ``q -> H q`` (e → eV/e) with its constrained solves.

    :param hardness: ``[N]`` hardnesses (eV/e²), detached. :param dtype: the dtype of the
        iterations (float32 or float64). :param constraints: the fragment totals
        (:class:`~.constraints.ChargeConstraints`); their totals are those of the charge solve.

    ``adjoint_iterations`` and ``adjoint_residuals`` list, in order, the iterations and final
    relative residuals of the adjoint solves of the backward passes through this solver.
    """

    #: ``"dense"`` or ``"cg"``.
    name = ""

    def __init__(self, hardness: torch.Tensor, dtype: torch.dtype, constraints: ChargeConstraints):
        self.dtype = dtype
        self.constraints = constraints
        self.hardness = hardness.to(dtype)
        #: residual scale of the charge solve (eV/e): the projected gradient at the uniform start
        self.scale = 1.0
        self.adjoint_iterations: list[int] = []
        self.adjoint_residuals: list[float] = []

    @abc.abstractmethod
    def __call__(self, q: torch.Tensor) -> torch.Tensor:
        """``H q`` (eV/e) for ``q`` ``[N]`` (e), in the solver's dtype, without autograd."""

    @abc.abstractmethod
    def solve(self, rhs, totals, initial=None, scale=None, record=None,
              verify=False) -> tuple[torch.Tensor, int, float]:
        """Minimise ``½ qᵀHq − rhsᵀq`` with ``Cᵀq = totals`` (``[F]``, e, the sum over each
        fragment); returns ``(q, iterations, residual)`` with the residual relative to ``scale``
        (default :attr:`scale`). ``initial`` is a starting point and ``record`` a list collecting
        ``(p, Hp)`` search directions (iterative solvers); ``verify`` makes an iterative solver
        recompute the final residual rather than trust its recursive estimate."""

    def constrained_inverse(self, b: torch.Tensor) -> torch.Tensor:
        """``y = S b`` (e) for ``b`` ``[N]`` (eV/e; projected first), solved to the tolerance
        relative to ``|Pb|``; logs its iterations and residual."""
        b = self.constraints.project(b)
        norm = float(torch.linalg.norm(b))
        if norm == 0.0:
            return torch.zeros_like(b)
        y, iterations, residual = self.adjoint_solve(b, norm)
        self.adjoint_iterations.append(iterations)
        self.adjoint_residuals.append(residual)
        return y

    def adjoint_solve(self, b: torch.Tensor, norm: float) -> tuple[torch.Tensor, int, float]:
        """The solve behind :meth:`constrained_inverse` for a projected ``b`` of norm ``norm``."""
        y, iterations, residual = self.solve(b, torch.zeros_like(self.constraints.totals), scale=norm)
        return self.constraints.project(y), iterations, residual
