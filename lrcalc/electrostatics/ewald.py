r"""Reciprocal-space part of the Ewald sum (3-D periodic, explicit k-vectors).

.. math::

    \phi^{\mathrm{lr}}_i = \frac{1}{V}\sum_{\mathbf k \ne 0} \frac{4\pi e^{-k^2 s^2/2}}{k^2}
    \operatorname{Re}\Big[e^{-i\mathbf k\cdot\mathbf x_i}\sum_j q_j e^{i\mathbf k\cdot
    \mathbf x_j}\Big],
    \qquad \mathbf k = 2\pi\,\mathbf m\,\mathbf h^{-\mathsf T},\ |\mathbf k| \le k_{\max},

with the sum over one half of k-space (times 2). Cost O(N·N_k); with the smearing
scaled as :math:`(V^2/N)^{1/6}` the total Ewald cost is O(N^{3/2}). Used for small
cells and as the reference for the mesh methods.
"""


import torch

from .cell import cell_volume
from .kernels import long_range_fourier_nonzero
from .reciprocal import half_space_vectors
from .strategy import CoulombStrategy


class EwaldKSpace(CoulombStrategy):
    """Linear map ``q -> phi_lr`` (e/Å) of the Ewald reciprocal-space sum.

    :param positions: ``[N, 3]`` (Å). :param cell: ``[3, 3]`` rows are cell vectors (Å).
    :param smearing: splitting width s (Å). :param k_max: reciprocal cutoff (1/Å).
    :param volume: the cell's volume (Å³) if the caller has it (differentiable like ``cell``).
    """

    def __init__(self, positions: torch.Tensor, cell: torch.Tensor, smearing: float, k_max: float,
                 volume: torch.Tensor | None = None):
        kvec = half_space_vectors(cell, k_max)
        volume = cell_volume(cell) if volume is None else volume
        k_sq = (kvec**2).sum(-1)  # never 0: half_space_vectors leaves out k = 0
        self.weights = 2.0 * long_range_fourier_nonzero(k_sq, smearing) / volume
        phase = positions @ kvec.T
        self.cos = torch.cos(phase)
        self.sin = torch.sin(phase)

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        cos = self.cos.to(charges.dtype)
        sin = self.sin.to(charges.dtype)
        w = self.weights.to(charges.dtype).unsqueeze(-1)
        return cos @ (w * (cos.T @ charges)) + sin @ (w * (sin.T @ charges))

    def detached(self, dtype: torch.dtype):
        """The same map for one charge vector ``[N]``, without autograd, in ``dtype``."""
        cos, sin = self.cos.detach().to(dtype), self.sin.detach().to(dtype)
        w = self.weights.detach().to(dtype)

        def apply(q: torch.Tensor) -> torch.Tensor:
            return cos @ (w * (q @ cos)) + sin @ (w * (q @ sin))

        return apply

    def matrix(self, n_atoms, dtype, device=None):
        """``[N, N]`` (1/Å): Σ_k w_k [cos(k·x_i) cos(k·x_j) + sin(k·x_i) sin(k·x_j)]."""
        cos, sin = self.cos.to(dtype), self.sin.to(dtype)
        w = self.weights.to(dtype)
        return (cos * w) @ cos.T + (sin * w) @ sin.T
