r"""Direct Qeq solver: the bordered (KKT) system, for small N (O(N²) memory, O(N³) time).

.. math::

    \begin{pmatrix} H & \mathbf 1 \\ \mathbf 1^{\mathsf T} & 0 \end{pmatrix}
    \begin{pmatrix} q \\ -\mu \end{pmatrix} = \begin{pmatrix} b \\ Q \end{pmatrix},

with :math:`H = k_e A + \operatorname{diag}(J)` (eV/e²) built column by column from the Coulomb
operator, :math:`b` (eV/e) and :math:`Q` (e). The LU factors serve the charge solve and every
adjoint solve of the backward passes.
"""

import torch

from ..coulomb import CoulombOperator
from .hardness import HardnessSolver

#: Columns of H built per application of the Coulomb operator (bounds the [pairs, chunk] temporaries).
COLUMN_CHUNK = 256


class DenseSolver(HardnessSolver):
    """:math:`H` as a matrix, with the LU factors of its KKT system; no iterations.

    :param coulomb: the Coulomb operator (applied without autograd).
    :param hardness: ``[N]`` hardnesses (eV/e²), detached.
    """

    name = "dense"

    @torch.no_grad()
    def __init__(self, coulomb: CoulombOperator, hardness: torch.Tensor):
        super().__init__(hardness, hardness.dtype)
        self.coulomb = coulomb
        n = hardness.shape[0]
        eye = torch.eye(n, dtype=hardness.dtype, device=hardness.device)
        h = torch.cat([coulomb(eye[:, k : k + COLUMN_CHUNK]) for k in range(0, n, COLUMN_CHUNK)], dim=1)
        h = 0.5 * (h + h.T) + torch.diag(hardness)
        kkt = torch.zeros(n + 1, n + 1, dtype=h.dtype, device=h.device)
        kkt[:n, :n] = h
        kkt[:n, n] = 1.0
        kkt[n, :n] = 1.0
        self.matrix = h
        self.kkt_lu = torch.linalg.lu_factor(kkt)

    def __call__(self, q):
        q = q.to(self.dtype)
        with torch.no_grad():  # detached even inside a backward pass that builds a graph
            return self.coulomb(q) + self.hardness * q

    def solve(self, rhs, total, initial=None, scale=None, record=None):
        """The direct solve (``initial`` and ``record`` are not used); 0 iterations."""
        scale = self.scale if scale is None else scale
        n = rhs.shape[0]
        rhs = rhs.to(self.dtype)
        b = torch.cat([rhs, rhs.new_tensor([total])])
        x = torch.linalg.lu_solve(*self.kkt_lu, b.unsqueeze(-1)).squeeze(-1)
        q = x[:n]
        q = q + (total - q.sum()) / n
        residual = rhs - self.matrix @ q
        residual = residual - residual.mean()
        return q, 0, float(torch.linalg.norm(residual)) / scale
