r"""Direct (all-pairs) sum for non-periodic systems (molecules, clusters).

.. math::

    \phi_i = \sum_{j \ne i} q_j\,\frac{\operatorname{erf}(r_{ij}/\sqrt2 s_{ij})}{r_{ij}}
    + \frac{q_i}{\sqrt\pi\,\sigma_i},\qquad E = \tfrac12\sum_i q_i\phi_i,

(times :math:`k_e`), with :math:`s_{ij} = \sqrt{\sigma_i^2+\sigma_j^2}`; for point
charges the erf is 1 and the self term is absent. Time and memory O(N²): meant for
molecules up to a few thousand atoms.
"""

import torch

from .kernels import gaussian_coulomb, pair_width, self_coefficient
from .strategy import CoulombStrategy


def coulomb_matrix(positions: torch.Tensor, sigma: torch.Tensor | None) -> torch.Tensor:
    r"""Dense matrix :math:`A_{ij}` (1/Å) with :math:`\phi = A q`, non-periodic.

    The diagonal holds the Gaussian self term :math:`1/(\sqrt\pi\sigma_i)` (zero for point
    charges).
    """
    n = positions.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=positions.device)
    diff = positions.unsqueeze(0) - positions.unsqueeze(1)
    # put a dummy 1 Å distance on the diagonal so that sqrt/erf stay differentiable
    r_sq = (diff**2).sum(-1)
    r = torch.sqrt(torch.where(eye, torch.ones_like(r_sq), r_sq))
    s_ij = None if sigma is None else pair_width(sigma.unsqueeze(0), sigma.unsqueeze(1))
    matrix = torch.where(eye, torch.zeros_like(r), gaussian_coulomb(r, s_ij))
    if sigma is not None:
        matrix = matrix + torch.diag_embed(self_coefficient(sigma, None))
    return matrix


class DirectSum(CoulombStrategy):
    """Linear map ``q -> phi`` (e/Å) by the dense all-pairs sum."""

    def __init__(self, positions: torch.Tensor, sigma: torch.Tensor | None):
        self.kernel_matrix = coulomb_matrix(positions, sigma)

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        return self.kernel_matrix.to(charges.dtype) @ charges

    def detached(self, dtype: torch.dtype):
        """The same map for one charge vector ``[N]``, without autograd, in ``dtype``."""
        matrix = self.kernel_matrix.detach().to(dtype)
        return lambda q: matrix @ q

    def matrix(self, n_atoms, dtype, device=None):
        return self.kernel_matrix.to(dtype)
