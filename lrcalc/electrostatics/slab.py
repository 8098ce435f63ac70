r"""Slabs: two periodic directions, vacuum along the third (Yeh–Berkowitz).

The slab is placed in a 3-D periodic cell whose third vector is replaced by
:math:`L\,\hat{\mathbf n}`, with :math:`\hat{\mathbf n}` the unit normal of the two
periodic vectors and :math:`L = (z_{\max} - z_{\min}) + g` the slab thickness plus a vacuum
gap :math:`g` (see :mod:`.tuning`). The 3-D Ewald/mesh sum in this padded cell (volume
:math:`V'`) is corrected for the spurious interaction between the dipoles of the
periodic slab images (Yeh & Berkowitz 1999), extended to net-charged slabs by Ballenegger,
Arnold & Cerdà (2009):

.. math::

    E_{\mathrm{YB}} = \frac{2\pi}{V'}\Big[M_z^2 - Q\sum_i q_i z_i^2
    - \frac{Q^2 L^2}{12}\Big],\qquad M_z = \sum_i q_i z_i,\quad Q = \sum_i q_i,

with :math:`z_i = (\mathbf x_i\cdot\hat{\mathbf n}) - z_{\min}` (Å); times :math:`k_e`. The
corresponding potential is :math:`\phi_i = \partial E_{\mathrm{YB}}/\partial q_i`.

**Net-charged slabs: the energy is that of the slab, independent of the padding.** The padded
3-D sum plus this correction does not depend on the padded height L, for point charges and for
Gaussian charges alike, so a charged slab's energy is a function of its structure only (not of the
vacuum gap that the accuracy setting picks); ``tests/electrostatics/test_es_charged_slab_convention.py``
checks it over gaps and accuracies. For Gaussian charges the second moment σᵢ² must *not* enter the
Q-term: the 3-D sum of Gaussian charges already carries it, and adding it (as this module did before)
left an energy E∞ − 2πk_e Q Σᵢqᵢσᵢ²/(A L) that moved with the gap (about 0.06 eV between accuracy
settings for a charged Cu-BTA slab). The energy is the limit L → ∞ of that earlier convention.

Yeh–Berkowitz removes only the in-plane-uniform (:math:`\mathbf k_\parallel = 0`) part of
the interaction with the images of the slab along :math:`\hat{\mathbf n}`. The remaining
image interaction of the in-plane Fourier modes (the electrostatic layer correction of
Arnold, de Joannis & Holm 2002) is removed exactly here as well, so the gap need not grow
with the lateral size of the cell. With :math:`A` the in-plane area, :math:`L` the padded
height and :math:`\mathbf k` the 2-D reciprocal vectors of the periodic plane, the images
:math:`n \ne 0` of the padded cell add

.. math::

    E_{\mathrm{lc}} = \frac{k_e}{2}\sum_{i,j} q_i q_j \sum_{\mathbf k \ne 0}
    \frac{2\pi}{A k}\,\frac{2\cosh(k z_{ij})}{e^{kL} - 1}\cos(\mathbf k\cdot\boldsymbol\rho_{ij}),

(:math:`\boldsymbol\rho` in-plane, :math:`z` along the normal; from
:math:`\sum_{n\ne0} e^{-k|z+nL|} = 2\cosh(kz)/(e^{kL}-1)` for :math:`|z| < L`), which the
padded 3-D sum contains and the slab must not. Every term is bounded by
:math:`e^{-k g}` with :math:`g` the vacuum gap, so the sum stops at
:math:`k_{\max} = \ln(10/\varepsilon)/g`. The charges are seen from at least a gap away,
where a Gaussian charge acts as a point charge (the gap is at least the real-space cutoff).
The cost is O(N·K) for K modes; :mod:`.tuning` picks the gap to keep K small.
"""

import math

import torch

from .reciprocal import half_space_vectors
from .strategy import CoulombStrategy


def periodic_axes(pbc: tuple[bool, bool, bool]) -> tuple[int, int, int]:
    """(first periodic, second periodic, non-periodic) axis indices of a slab."""
    axes = [a for a in range(3) if pbc[a]]
    free = [a for a in range(3) if not pbc[a]]
    return axes[0], axes[1], free[0]


class SlabGeometry(CoulombStrategy):
    """Padded 3-D cell of a slab and its Yeh–Berkowitz correction (calling it gives the potential of
    the correction, layer correction included).

    :param positions: ``[N, 3]`` (Å). :param cell: ``[3, 3]`` user cell (Å); only its two
        periodic vectors matter. :param pbc: exactly one ``False``.
    :param gap: vacuum gap (Å). :param layer_k_max: reciprocal cutoff (1/Å) of the layer correction.
    The charges' Gaussian widths do not enter (module docstring).
    """

    def __init__(self, positions, cell, pbc, gap: float, layer_k_max: float | None = None):
        a, b, free = periodic_axes(pbc)
        normal = torch.linalg.cross(cell[a], cell[b])
        area = torch.linalg.norm(normal)
        normal = normal / area
        z = positions @ normal
        z = z - z.min()
        self.thickness = z.max() + gap
        rows = [None, None, None]
        rows[a], rows[b], rows[free] = cell[a], cell[b], normal * self.thickness
        self.cell = torch.stack(rows)
        self.volume = area * self.thickness  # the normal is a unit vector perpendicular to a and b
        self.z = z
        self.z2 = z**2  # no σ² term for Gaussian charges: see the module docstring
        self.layer = None
        if layer_k_max is not None and layer_k_max > 0:
            self.layer = _LayerCorrection(positions, z, self.cell[[a, b]], area, self.thickness, layer_k_max)

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        """Potential ``[N, C]`` (e/Å) of the Yeh–Berkowitz correction."""
        z = self.z.unsqueeze(-1).to(charges.dtype)
        z2 = self.z2.unsqueeze(-1).to(charges.dtype)
        phi = _yeh_berkowitz(charges, z, z2, 4.0 * math.pi / self.volume, self.thickness**2 / 12.0)
        if self.layer is not None:
            phi = phi - self.layer(charges)
        return phi

    def detached(self, dtype: torch.dtype):
        """The correction for one charge vector ``[N]``, without autograd, in ``dtype``."""
        z, z2 = self.z.detach().to(dtype), self.z2.detach().to(dtype)
        prefactor = float(4.0 * math.pi / self.volume)
        background = float(self.thickness**2 / 12.0)
        layer = None if self.layer is None or self.layer.empty else self.layer.detached(dtype)

        def apply(q: torch.Tensor) -> torch.Tensor:
            phi = _yeh_berkowitz(q, z, z2, prefactor, background)
            return phi if layer is None else phi - layer(q)

        return apply

    def matrix(self, n_atoms, dtype, device=None):
        """``[N, N]`` (1/Å) of the correction: (4π/V')[z_i z_j − ½(z2_i + z2_j) − L²/12], minus the
        layer correction."""
        z, z2 = self.z.to(dtype), self.z2.to(dtype)
        matrix = (4.0 * math.pi / self.volume) * (
            z.unsqueeze(1) * z - 0.5 * (z2.unsqueeze(1) + z2) - self.thickness**2 / 12.0)
        if self.layer is not None and not self.layer.empty:
            matrix = matrix - self.layer.matrix(n_atoms, dtype, device)
        return matrix


def _yeh_berkowitz(charges, z, z2, prefactor, background):
    """φ_i = (4π/V')[z_i M_z − ½(Σ_j q_j z2_j + Q z2_i) − Q L²/12] for charges ``[N]`` or ``[N, C]``
    (``z``, ``z2`` shaped to broadcast against them; ``background`` is L²/12)."""
    total = charges.sum(0)
    dipole = (charges * z).sum(0)
    second = (charges * z2).sum(0)
    return prefactor * (z * dipole - 0.5 * (second + total * z2) - total * background)


class _LayerCorrection(CoulombStrategy):
    """Potential (e/Å, [N, C]) of the images n ≠ 0 of the in-plane modes k ≠ 0 (module docstring).

    Uses Σ_j q_j cos(k·ρ_ij) cosh(k z_ij) = ½ Re[e^{ik·ρ_i}(e^{k z_i} S̄⁻ + e^{-k z_i} S̄⁺)] with
    S^± = Σ_j q_j e^{ik·ρ_j ± k z_j}; z is measured from the middle of the slab, which keeps the
    exponentials within e^{±k t/2} for a slab of thickness t.
    """

    def __init__(self, positions, z, plane, area, height, k_max):
        k = half_space_vectors(plane, k_max)  # [K, 3], in-plane
        self.empty = k.shape[0] == 0
        if self.empty:
            return
        k_len = torch.linalg.norm(k, dim=-1)
        zc = (z - 0.5 * (z.max() + z.min())).unsqueeze(-1)
        phase = positions @ k.T  # k·ρ (k has no normal component)
        cos, sin = torch.cos(phase), torch.sin(phase)
        grow, decay = torch.exp(k_len * zc), torch.exp(-k_len * zc)
        # [N, 4K] blocks: Re and Im of e^{ik·ρ} e^{+kz}, then of e^{ik·ρ} e^{-kz}
        self.basis = torch.cat([cos * grow, sin * grow, cos * decay, sin * decay], dim=-1)
        # both ±k: factor 2; 2π/(A k); 2/(e^{kL} - 1) = 2 e^{-kL}/(1 - e^{-kL})
        weight = 2.0 * (2.0 * math.pi / (area * k_len)) * 2.0 / torch.expm1(k_len * height)
        self.weight = weight.repeat(4).unsqueeze(-1)
        self.num_modes = k.shape[0]

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        if self.empty:
            return torch.zeros_like(charges)
        return self._apply(self.basis.to(charges.dtype), self.weight.to(charges.dtype), charges)

    def detached(self, dtype: torch.dtype):
        """The same map for one charge vector ``[N]``, without autograd, in ``dtype``."""
        basis = self.basis.detach().to(dtype)
        weight = self.weight.detach().squeeze(-1).to(dtype)
        return lambda q: self._apply(basis, weight, q)

    def matrix(self, n_atoms, dtype, device=None):
        """``[N, N]`` (1/Å): ½ Σ over the pairings of e^{±kz_i} with S^∓ (see :meth:`_apply`)."""
        basis = self.basis.to(dtype)
        weighted = basis * self.weight.squeeze(-1).to(dtype)
        half = 2 * self.num_modes
        return 0.5 * (weighted[:, :half] @ basis[:, half:].T + weighted[:, half:] @ basis[:, :half].T)

    def _apply(self, basis, weight, charges):
        """``charges`` ``[N, C]`` with ``weight`` ``[4K, 1]``, or ``[N]`` with ``weight`` ``[4K]``."""
        factors = basis.T @ charges  # [4K(, C)]: S⁺_re, S⁺_im, S⁻_re, S⁻_im
        half = 2 * self.num_modes
        swapped = torch.cat([factors[half:], factors[:half]])  # each e^{±kz_i} pairs with S^∓
        # ½ Re[e^{ik·ρ_i} e^{k z_i} conj(S⁻)] = ½ e^{k z_i} (cos_i S⁻_re + sin_i S⁻_im), and likewise
        return 0.5 * basis @ (weight * swapped)
