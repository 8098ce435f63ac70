r"""Reciprocal-space part on a mesh (PME or P3M), O(N log N), via torch-pme's mesh tools.

.. math::

    \phi^{\mathrm{lr}}_i = \frac1V\,\big[W^{\mathsf T}\,\mathcal F^{-1}\big(\hat G(\mathbf k)\,
    \mathcal F(W q)\big)\big]_i,\qquad \hat G(\mathbf k) = \frac{4\pi e^{-k^2 s^2/2}}{k^2}
    \times \text{(P3M optimal influence function)},

where :math:`W` spreads point charges onto a regular mesh with piecewise polynomials
(``"p3m"``: P3M charge assignment and the optimal influence function of Hockney and
Eastwood; ``"pme"``: Lagrange interpolation). Charge spreading, the influence function and
the interpolation come from :mod:`torchpme.lib`; this module picks the mesh size itself
(any FFT-friendly size, not only powers of two) and keeps weights and filter for repeated
application to many charge vectors (the Qeq conjugate-gradient loop).

Only point charges enter here: per-atom Gaussian widths are handled by the real-space
remainder (:mod:`.realspace`).
"""

import math

import torch
from torchpme.lib import KSpaceFilter, KSpaceKernel, MeshInterpolator, P3MKSpaceFilter

from .cell import cell_volume
from .kernels import long_range_fourier
from .sparse import csr_matrix, csr_regular
from .strategy import CoulombStrategy


class _LongRangeKernel(KSpaceKernel):
    def __init__(self, smearing: float):
        super().__init__()
        self.smearing = float(smearing)

    def kernel_from_k_sq(self, k_sq: torch.Tensor) -> torch.Tensor:
        return long_range_fourier(k_sq, self.smearing)


class _TriclinicP3MFilter(P3MKSpaceFilter):
    """P3M filter whose charge-assignment deconvolution is correct for triclinic cells.

    torch-pme 0.5 evaluates the assignment function at ``k * |a| / n``, which equals the
    mesh phase ``2 pi m / n`` only for orthogonal cells (a 3e-3 Madelung error for the
    primitive rock-salt cell). Here the phase along cell vector a is ``k . a / n``.
    """

    def _compute_influence(self, kvectors: torch.Tensor) -> torch.Tensor:
        kh = (kvectors @ self.cell.T.to(kvectors.dtype)) / self.ns_mesh.to(kvectors.dtype)
        u2 = self._charge_assignment(kh)
        safe = torch.where(u2 == 0, torch.ones_like(u2), u2)
        return torch.where(u2 == 0, torch.zeros_like(u2), 1.0 / safe)


def fft_friendly(n: int) -> int:
    """Smallest integer >= ``n`` whose only prime factors are 2, 3 and 5."""
    n = max(int(n), 1)
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def mesh_shape(cell: torch.Tensor, spacing: float, min_points: int = 8) -> list[int]:
    """Mesh points along each cell vector for a target ``spacing`` (Å)."""
    lengths = torch.linalg.norm(cell.detach(), dim=1)
    return [fft_friendly(max(min_points, math.ceil(float(L) / spacing))) for L in lengths]


class MeshKSpace(CoulombStrategy):
    """Linear map ``q -> phi_lr`` (e/Å) of the mesh reciprocal-space sum.

    :param positions: ``[N, 3]`` (Å). :param cell: ``[3, 3]`` (Å).
    :param smearing: splitting width s (Å). :param shape: mesh points along each cell
        vector. :param order: interpolation nodes per axis (P3M: 1-5, PME: 3-7).
    :param method: ``"p3m"`` or ``"pme"``.
    """

    def __init__(
        self,
        positions: torch.Tensor,
        cell: torch.Tensor,
        smearing: float,
        shape: list[int],
        order: int = 5,
        method: str = "p3m",
    ):
        ns = torch.tensor(shape, device=cell.device)
        kernel = _LongRangeKernel(smearing)
        if method == "p3m":
            self.filter = _TriclinicP3MFilter(
                cell=cell,
                ns_mesh=ns,
                interpolation_nodes=order,
                kernel=kernel,
                mode=0,
                differential_order=2,
                fft_norm="backward",
                ifft_norm="forward",
            )
            self.mesh = MeshInterpolator(cell, ns, order, method="P3M")
        elif method == "pme":
            self.filter = KSpaceFilter(
                cell=cell, ns_mesh=ns, kernel=kernel, fft_norm="backward", ifft_norm="forward"
            )
            self.mesh = MeshInterpolator(cell, ns, order, method="Lagrange")
        else:
            raise ValueError(f"unknown mesh method {method!r}; use 'p3m' or 'pme'")
        self.mesh.compute_weights(positions)
        # Precompute, once per geometry, the flat mesh index and the 3-D weight of every
        # (node, atom) pair so that each application is one scatter and one gather.
        m = self.mesh
        weights = m.interpolation_weights
        self.weights = (
            weights[m.x_shifts, :, 0] * weights[m.y_shifts, :, 1] * weights[m.z_shifts, :, 2]
        ).unsqueeze(-1)
        self.index = ((m.x_indices * shape[1] + m.y_indices) * shape[2] + m.z_indices).reshape(-1)
        self.shape = list(shape)
        self.inverse_volume = 1.0 / cell_volume(cell)

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        n_channels = charges.shape[1]
        values = (self.weights * charges.unsqueeze(0)).reshape(-1, n_channels)
        rho = torch.zeros(
            math.prod(self.shape), n_channels, dtype=values.dtype, device=values.device
        ).index_add(0, self.index, values)
        rho = rho.T.reshape(n_channels, *self.shape)
        phi_mesh = self.filter.forward(rho).reshape(n_channels, -1).T
        phi = (phi_mesh[self.index].reshape(self.weights.shape[0], -1, n_channels) * self.weights).sum(0)
        return phi * self.inverse_volume

    def detached(self, dtype: torch.dtype):
        """The same map for one charge vector ``[N]``, without autograd, in ``dtype``: spreading
        and interpolation as sparse (CSR) products, two FFTs, the filter and 1/V folded together."""
        weights = self.weights.detach().squeeze(-1).to(dtype)  # [nodes, N]
        shape, size = tuple(self.shape), math.prod(self.shape)
        n_nodes, n_atoms = weights.shape
        atoms = torch.arange(n_atoms, device=weights.device).repeat(n_nodes)
        spread = csr_matrix(self.index, atoms, weights.reshape(-1), (size, n_atoms))
        interpolate = csr_regular(self.index.reshape(n_nodes, n_atoms).T, weights.T, size)
        kfilter = (self.filter._kfilter * self.inverse_volume).detach().to(dtype)
        fft_norm, ifft_norm = self.filter._fft_norm, self.filter._ifft_norm

        def apply(q: torch.Tensor) -> torch.Tensor:
            rho_hat = torch.fft.rfftn((spread @ q).reshape(shape), norm=fft_norm)
            return interpolate @ torch.fft.irfftn(rho_hat * kfilter, s=shape, norm=ifft_norm).reshape(-1)

        return apply
