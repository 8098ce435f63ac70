r"""Slabs: two periodic directions, vacuum along the third (Yeh–Berkowitz).

The slab is placed in a 3-D periodic cell whose third vector is replaced by
:math:`L\,\hat{\mathbf n}`, with :math:`\hat{\mathbf n}` the unit normal of the two
periodic vectors and :math:`L = (z_{\max} - z_{\min}) + g` the slab thickness plus a vacuum
gap :math:`g` (see :mod:`.tuning`). The 3-D Ewald/mesh sum in this padded cell (volume
:math:`V'`) is corrected for the spurious interaction between the dipoles of the
periodic slab images (Yeh & Berkowitz 1999), extended to net-charged slabs by Ballenegger,
Arnold & Cerdà (2009):

.. math::

    E_{\mathrm{YB}} = \frac{2\pi}{V'}\Big[M_z^2 - Q\sum_i q_i (z_i^2 + \sigma_i^2)
    - \frac{Q^2 L^2}{12}\Big],\qquad M_z = \sum_i q_i z_i,\quad Q = \sum_i q_i,

with :math:`z_i = (\mathbf x_i\cdot\hat{\mathbf n}) - z_{\min}` (Å) and the
:math:`\sigma_i^2` term the second moment of a Gaussian charge (zero for point charges);
times :math:`k_e`. The corresponding potential is
:math:`\phi_i = \partial E_{\mathrm{YB}}/\partial q_i`. For net-charged slabs the energy
follows that convention and depends on the vacuum gap; only neutral slabs converge to
the vacuum limit.
"""

import math

import torch


def periodic_axes(pbc: tuple[bool, bool, bool]) -> tuple[int, int, int]:
    """(first periodic, second periodic, non-periodic) axis indices of a slab."""
    axes = [a for a in range(3) if pbc[a]]
    free = [a for a in range(3) if not pbc[a]]
    return axes[0], axes[1], free[0]


class SlabGeometry:
    """Padded 3-D cell of a slab and its Yeh–Berkowitz correction.

    :param positions: ``[N, 3]`` (Å). :param cell: ``[3, 3]`` user cell (Å); only its two
        periodic vectors matter. :param pbc: exactly one ``False``.
    :param gap: vacuum gap (Å). :param sigma: ``[N]`` widths (Å) or ``None``.
    """

    def __init__(self, positions, cell, pbc, gap: float, sigma=None):
        a, b, free = periodic_axes(pbc)
        normal = torch.linalg.cross(cell[a], cell[b])
        normal = normal / torch.linalg.norm(normal)
        z = positions @ normal
        z = z - z.min()
        self.thickness = z.max() + gap
        rows = [None, None, None]
        rows[a], rows[b], rows[free] = cell[a], cell[b], normal * self.thickness
        self.cell = torch.stack(rows)
        self.volume = torch.abs(torch.linalg.det(self.cell))
        self.z = z
        self.z2 = z**2 if sigma is None else z**2 + sigma**2

    def correction(self, charges: torch.Tensor) -> torch.Tensor:
        """Potential ``[N, C]`` (e/Å) of the Yeh–Berkowitz correction."""
        z = self.z.unsqueeze(-1).to(charges.dtype)
        z2 = self.z2.unsqueeze(-1).to(charges.dtype)
        total = charges.sum(0)
        dipole = (charges * z).sum(0)
        second = (charges * z2).sum(0)
        prefactor = 4.0 * math.pi / self.volume
        return prefactor * (z * dipole - 0.5 * (second + total * z2) - total * self.thickness**2 / 12.0)
