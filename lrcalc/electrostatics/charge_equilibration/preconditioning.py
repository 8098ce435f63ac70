r"""Preconditioners of the Qeq conjugate gradients on the plane :math:`\sum_i q_i = Q`.

**One level.** :math:`M_0^{-1}` (e²/eV) is the coarse-mesh Woodbury approximation of
:math:`H^{-1}` for periodic systems (:class:`~lrcalc.electrostatics.preconditioner.CoarseMeshPreconditioner`)
or the Jacobi inverse of :math:`D_{ii} = J_i + k_e/(\sqrt\pi\sigma_i)` (eV/e²), projected onto
zero-sum vectors so that it stays symmetric on the constraint plane:

.. math::

    z = M_0^{-1} r - \frac{\mathbf 1^{\mathsf T} M_0^{-1} r}{\mathbf 1^{\mathsf T} M_0^{-1}\mathbf 1}
    M_0^{-1}\mathbf 1 .

**Two levels** (balancing), with a coarse space :math:`W` of zero-sum columns (earlier search
directions, :mod:`.coarse_space`), their products :math:`HW` and :math:`E = W^{\mathsf T} H W`:

.. math::

    z = X^{\mathsf T} M_0^{-1} X r + W E^{-1} W^{\mathsf T} r, \qquad
    X = I - (HW) E^{-1} W^{\mathsf T}.

On the span of :math:`W` it inverts :math:`H` exactly (the smooth, slowly converging modes that
earlier solves already found), elsewhere it acts like :math:`M_0`. It is symmetric positive
definite for any stored :math:`HW` with a positive definite :math:`E`, so products from earlier
MD steps cost iterations, never accuracy.
"""

import torch

from ..constants import COULOMB_CONSTANT
from ..coulomb import CoulombOperator
from ..kernels import self_coefficient
from ..preconditioner import CoarseMeshPreconditioner, JacobiPreconditioner

#: Names accepted for the one-level preconditioner.
PRECONDITIONERS = ("auto", "mesh", "jacobi")

#: Relative diagonal shifts of E = Wᵀ(HW) tried in turn for its factorisation (damp nearly dependent
#: directions, and directions made indefinite by products from earlier geometries).
COARSE_SPACE_SHIFTS = (1e-6, 1e-4, 1e-3, 1e-2)


class ZeroSumPreconditioner:
    """A one-level preconditioner ``r -> z`` (eV/e → e) projected onto zero-sum vectors.

    :param inner: :class:`~lrcalc.electrostatics.preconditioner.JacobiPreconditioner` or
        :class:`~lrcalc.electrostatics.preconditioner.CoarseMeshPreconditioner`, cast to ``dtype``.
    :param like: an ``[N]`` tensor giving the size and device.
    """

    def __init__(self, inner, dtype: torch.dtype, like: torch.Tensor, name: str):
        self.name = name  # "mesh" or "jacobi"
        self.dtype = dtype
        self.inner = inner.astype(dtype)
        self.image_of_ones = self.inner(torch.ones_like(like, dtype=dtype))  # M₀⁻¹ 1

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        """z in the dtype of r; computed in the preconditioner's own dtype."""
        z = self.inner(r.to(self.dtype))
        return (z - (z.sum() / self.image_of_ones.sum()) * self.image_of_ones).to(r.dtype)


def one_level(
    kind: str,
    coulomb: CoulombOperator,
    hardness: torch.Tensor,
    sigma: torch.Tensor | None,
    positions: torch.Tensor | None,
    cell: torch.Tensor | None,
    dtype: torch.dtype,
) -> ZeroSumPreconditioner:
    """The one-level preconditioner ``kind`` (``"auto"``: ``"mesh"`` with a cell, else
    ``"jacobi"``) for hardnesses ``[N]`` (eV/e²) and widths ``[N]`` (Å); detached inputs."""
    if kind == "auto":
        kind = "mesh" if cell is not None else "jacobi"
    if kind == "mesh":
        slab = coulomb.slab is not None
        padded = coulomb.slab.cell if slab else cell
        inner = CoarseMeshPreconditioner(positions, padded, hardness, sigma, mean_field=not slab)
    elif kind == "jacobi":
        diagonal = hardness.clone()
        if sigma is not None:
            diagonal = diagonal + COULOMB_CONSTANT * self_coefficient(sigma, None)
        inner = JacobiPreconditioner(diagonal)
    else:
        raise ValueError(f"unknown preconditioner {kind!r}; use 'auto', 'mesh' or 'jacobi'")
    return ZeroSumPreconditioner(inner, dtype, hardness, kind)


class TwoLevelPreconditioner:
    """The balancing preconditioner of the module docstring.

    :param one_level: :math:`M_0^{-1}`, projected. :param w: ``[N, k]`` zero-sum columns (e).
    :param hw: ``[N, k]`` their products with H, projected (eV/e). :param factor: Cholesky factor
        ``[k, k]`` (float64) of the shifted :math:`E`.
    """

    def __init__(self, one_level, w: torch.Tensor, hw: torch.Tensor, factor: torch.Tensor):
        self.one_level = one_level
        self.w, self.hw, self.factor = w, hw, factor

    @classmethod
    def from_space(cls, one_level, space: tuple | None, dtype: torch.dtype):
        """The two-level preconditioner of a stored coarse space ``(W, HW, E)`` in ``dtype``, or
        ``None`` without a space or when no shift makes E positive definite.

        ``E`` is symmetrised and shifted by the first of :data:`COARSE_SPACE_SHIFTS` (times its
        largest diagonal entry) for which its Cholesky factorisation succeeds: CG directions lose
        conjugacy over long solves (more so in float32) and become nearly dependent, and inverting
        ``E`` exactly across them would amplify rounding errors; the shift only damps those
        directions. Products from earlier geometries can leave E slightly indefinite: larger shifts
        until the factorisation succeeds."""
        if space is None:
            return None
        w, hw, coarse = space
        coarse = 0.5 * (coarse + coarse.T)
        eye = torch.eye(len(coarse), dtype=coarse.dtype, device=coarse.device)
        largest = float(coarse.diagonal().max())
        for relative_shift in COARSE_SPACE_SHIFTS:
            factor, info = torch.linalg.cholesky_ex(coarse + relative_shift * largest * eye)
            if int(info) == 0:
                return cls(one_level, w.to(dtype), hw.to(dtype), factor)
        return None

    def _coarse_inverse(self, v: torch.Tensor) -> torch.Tensor:
        """E⁻¹ v, solved in float64, returned in the dtype of the iterations."""
        return torch.cholesky_solve(v.double().unsqueeze(-1), self.factor).squeeze(-1).to(self.w.dtype)

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        c = self._coarse_inverse(self.w.T @ r)
        z = self.one_level(r - self.hw @ c)
        return z - self.w @ self._coarse_inverse(self.hw.T @ z) + self.w @ c
