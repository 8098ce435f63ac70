r"""Real-space pair sum of a short-ranged kernel over a :class:`PairList`.

.. math::

    \phi_i = \sum_{(i,j,\mathbf n)} K_{ij}\big(|\mathbf x_j - \mathbf x_i + \mathbf n\cdot
    \mathbf h|\big)\, q_j \quad(\text{and symmetrically for } j),

with :math:`K` either the Ewald remainder :func:`~.kernels.short_range` (periodic
strategies) or, for a plain cutoff sum, the full :func:`~.kernels.gaussian_coulomb`.
The kernel values are computed once per geometry, so applying the operator to many
charge vectors (conjugate-gradient iterations) costs one gather and one scatter.
"""

import torch

from .kernels import pair_width, short_range
from .neighbors import PairList
from .sparse import csr_matrix
from .strategy import CoulombStrategy


class RealSpaceSum(CoulombStrategy):
    """Linear map ``q -> phi`` (1/Å · e) of the real-space remainder of the Ewald split.

    :param pairs: half pair list.
    :param positions: ``[N, 3]`` positions (Å), may require grad.
    :param cell: ``[3, 3]`` cell (Å) or ``None``.
    :param sigma: ``[N]`` Gaussian widths (Å) or ``None`` for point charges.
    :param smearing: Ewald splitting width (Å).
    """

    def __init__(
        self,
        pairs: PairList,
        positions: torch.Tensor,
        cell: torch.Tensor | None,
        sigma: torch.Tensor | None,
        smearing: float,
    ):
        self.i = pairs.i
        self.j = pairs.j
        self.n_atoms = positions.shape[0]
        differentiable = torch.is_grad_enabled() and (
            positions.requires_grad or (cell is not None and cell.requires_grad)
        )
        if differentiable:
            r = torch.linalg.norm(pairs.vectors(positions, cell), dim=-1)
        else:
            r = pairs.distances
        s_ij = None if sigma is None else pair_width(sigma[pairs.i], sigma[pairs.j])
        self.values = short_range(r, smearing, s_ij)

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        """Potential ``[N, C]`` (e/Å) of charges ``[N, C]`` (e)."""
        values = self.values.unsqueeze(-1).to(charges.dtype)
        phi = torch.zeros_like(charges)
        phi = phi.index_add(0, self.i, values * charges[self.j])
        phi = phi.index_add(0, self.j, values * charges[self.i])
        return phi

    def detached(self, dtype: torch.dtype):
        """The same map for one charge vector ``[N]``, without autograd, in ``dtype``: one sparse
        (CSR) product with the symmetric pair matrix."""
        values = self.values.detach().to(dtype)
        matrix = csr_matrix(
            torch.cat([self.i, self.j]), torch.cat([self.j, self.i]), torch.cat([values, values]),
            (self.n_atoms, self.n_atoms),
        )
        return lambda q: matrix @ q

    def matrix(self, n_atoms, dtype, device=None):
        """``[N, N]`` (1/Å): each pair's kernel value added at (i, j) and at (j, i), all images summed."""
        values = self.values.to(dtype)
        flat = torch.zeros(n_atoms * n_atoms, dtype=dtype, device=values.device)
        flat = flat.index_add(0, torch.cat([self.i * n_atoms + self.j, self.j * n_atoms + self.i]),
                              torch.cat([values, values]))
        return flat.view(n_atoms, n_atoms)
