r"""Direct Qeq solver: the bordered (KKT) system, for small N (O(N²) memory, O(N³) time).

.. math::

    \begin{pmatrix} H & C \\ C^{\mathsf T} & 0 \end{pmatrix}
    \begin{pmatrix} q \\ -\mu \end{pmatrix} = \begin{pmatrix} b \\ Q \end{pmatrix},

with :math:`H = k_e A + \operatorname{diag}(J)` (eV/e²) from the Coulomb operator's dense matrix
(:meth:`~lrcalc.electrostatics.CoulombOperator.matrix`, the same one :func:`.qeq` applies
differentiably), :math:`b` (eV/e), the fragment indicator :math:`C` (``[N, F]``, :mod:`.constraints`;
:math:`\mathbf 1` for the total charge alone), the fragment totals :math:`Q` (e) and one Lagrange
multiplier :math:`\mu_f` (eV/e) per fragment. The LU factors serve the charge solve and every
adjoint solve of the backward passes.
"""

import torch

from ..coulomb import CoulombOperator
from .constraints import ChargeConstraints
from .hardness import HardnessSolver

class DenseSolver(HardnessSolver):
    """:math:`H` as a matrix, with the LU factors of its KKT system; no iterations.

    :param coulomb: the Coulomb operator. :param hardness: ``[N]`` hardnesses (eV/e²), detached.
    :param constraints: the fragment totals (:class:`~.constraints.ChargeConstraints`).
    :param coulomb_matrix: ``[N, N]`` its dense matrix (eV/e²) if the caller has it (detached here),
        else built from ``coulomb``.
    """

    name = "dense"

    @torch.no_grad()
    def __init__(self, coulomb: CoulombOperator, hardness: torch.Tensor, constraints: ChargeConstraints,
                 coulomb_matrix: torch.Tensor | None = None):
        super().__init__(hardness, hardness.dtype, constraints)
        n = hardness.shape[0]
        a = coulomb.matrix(hardness.dtype) if coulomb_matrix is None else coulomb_matrix.detach().to(hardness.dtype)
        self.coulomb_matrix = a
        h = 0.5 * (a + a.T) + torch.diag(hardness)
        f = constraints.num_fragments
        border = constraints.indicator(h.dtype)
        kkt = torch.zeros(n + f, n + f, dtype=h.dtype, device=h.device)
        kkt[:n, :n] = h
        kkt[:n, n:] = border
        kkt[n:, :n] = border.T
        self.matrix = h
        self.kkt_lu = torch.linalg.lu_factor(kkt)

    def __call__(self, q):
        q = q.to(self.dtype)
        with torch.no_grad():  # detached even inside a backward pass that builds a graph
            return self.coulomb_matrix @ q + self.hardness * q

    def solve(self, rhs, totals, initial=None, scale=None, record=None, verify=False):
        """The direct solve (``initial``, ``record`` and ``verify`` are not used); 0 iterations."""
        scale = self.scale if scale is None else scale
        n = rhs.shape[0]
        rhs = rhs.to(self.dtype)
        b = torch.cat([rhs, totals.to(self.dtype)])
        x = torch.linalg.lu_solve(*self.kkt_lu, b.unsqueeze(-1)).squeeze(-1)
        q = self.constraints.correct(x[:n], totals)
        residual = self.constraints.project(rhs - self.matrix @ q)
        return q, 0, float(torch.linalg.norm(residual)) / scale
