r"""Preconditioners of the Qeq conjugate gradients on the constraint set :math:`C^{\mathsf T} q = Q`.

**One level.** :math:`M_0^{-1}` (e²/eV) is the coarse-mesh Woodbury approximation of
:math:`H^{-1}` for periodic systems (:class:`~lrcalc.electrostatics.preconditioner.CoarseMeshPreconditioner`)
or the Jacobi inverse of :math:`D_{ii} = J_i + k_e/(\sqrt\pi\sigma_i)` (eV/e²), projected onto
the null space of the constraints (:mod:`.constraints`; zero-sum vectors for the total charge, zero
sum over each fragment with fragments) so that it stays symmetric there:

.. math::

    z = M_0^{-1} r - M_0^{-1} C\,\big(C^{\mathsf T} M_0^{-1} C\big)^{-1} C^{\mathsf T} M_0^{-1} r ,

which for the total charge alone (:math:`C = \mathbf 1`) reads :math:`z = M_0^{-1} r -
(\mathbf 1^{\mathsf T} M_0^{-1} r / \mathbf 1^{\mathsf T} M_0^{-1}\mathbf 1)\, M_0^{-1}\mathbf 1`.
For Jacobi the columns of :math:`M_0^{-1} C` are those of :math:`M_0^{-1}\mathbf 1` restricted to each
fragment and :math:`C^{\mathsf T} M_0^{-1} C` is diagonal: the projection costs O(N) for any number of
fragments. The coarse mesh needs one application per fragment for :math:`M_0^{-1} C` and a dense
``[N, F]`` table: up to :data:`MESH_MAX_FRAGMENTS` fragments it is used like that, beyond them the
fragment solve falls back to Jacobi (``QeqInfo.preconditioner`` then says ``"jacobi"``).

**Two levels** (balancing), with a coarse space :math:`W` of columns in that null space (earlier search
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
from ..preconditioner import MAX_EQUALISATION, CoarseMeshPreconditioner, JacobiPreconditioner
from .constraints import ChargeConstraints

#: Names accepted for the one-level preconditioner.
PRECONDITIONERS = ("auto", "mesh", "jacobi")

#: Most fragments for which the coarse-mesh preconditioner is projected exactly (one application per
#: fragment, an ``[N, F]`` table); with more, fragment solves use Jacobi.
MESH_MAX_FRAGMENTS = 64

#: Relative diagonal shifts of E = Wᵀ(HW) tried in turn for its factorisation (damp nearly dependent
#: directions, and directions made indefinite by products from earlier geometries).
COARSE_SPACE_SHIFTS = (1e-6, 1e-4, 1e-3, 1e-2)


class ZeroSumPreconditioner:
    """A one-level preconditioner ``r -> z`` (eV/e → e) projected onto the null space of the
    constraints (zero-sum vectors, or zero sum over each fragment).

    :param inner: :class:`~lrcalc.electrostatics.preconditioner.JacobiPreconditioner` or
        :class:`~lrcalc.electrostatics.preconditioner.CoarseMeshPreconditioner`, cast to ``dtype``.
    :param like: an ``[N]`` tensor giving the size and device.
    :param constraints: the fragments (:class:`~.constraints.ChargeConstraints`); ``None``: the
        total charge alone.
    """

    def __init__(self, inner, dtype: torch.dtype, like: torch.Tensor, name: str,
                 constraints: ChargeConstraints | None = None):
        self.name = name  # "mesh" or "jacobi"
        self.dtype = dtype
        self.inner = inner.astype(dtype)
        self.constraints = constraints if constraints is not None and not constraints.single else None
        self.images = None
        self.image_of_ones = self.inner(torch.ones_like(like, dtype=dtype))  # M₀⁻¹ 1
        if self.constraints is None:
            return
        if isinstance(inner, JacobiPreconditioner):
            # M₀⁻¹C: the columns of M₀⁻¹1 on each fragment; CᵀM₀⁻¹C: their sums, a diagonal
            self.block = self.constraints.sums(self.image_of_ones)
        else:
            indicator = self.constraints.indicator(dtype)
            # M₀⁻¹C [N, F]
            self.images = torch.stack([self.inner(column) for column in indicator.T], dim=1)
            gram = self.constraints.sums(self.images).double()  # CᵀM₀⁻¹C [F, F]
            self.gram_inverse = torch.linalg.inv(0.5 * (gram + gram.T)).to(dtype)

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        """z in the dtype of r; computed in the preconditioner's own dtype."""
        z = self.inner(r.to(self.dtype))
        constraints = self.constraints
        if constraints is None:
            return (z - (z.sum() / self.image_of_ones.sum()) * self.image_of_ones).to(r.dtype)
        if self.images is None:
            coefficients = constraints.sums(z) / self.block
            return (z - self.image_of_ones * constraints.spread(coefficients)).to(r.dtype)
        return (z - self.images @ (self.gram_inverse @ constraints.sums(z))).to(r.dtype)


def one_level(
    kind: str,
    coulomb: CoulombOperator,
    hardness: torch.Tensor,
    sigma: torch.Tensor | None,
    positions: torch.Tensor | None,
    cell: torch.Tensor | None,
    dtype: torch.dtype,
    constraints: ChargeConstraints | None = None,
) -> ZeroSumPreconditioner:
    """The one-level preconditioner ``kind`` (``"auto"``: ``"mesh"`` with a cell, else
    ``"jacobi"``) for hardnesses ``[N]`` (eV/e²) and widths ``[N]`` (Å); detached inputs; projected
    for ``constraints`` (default: the total charge). With more than :data:`MESH_MAX_FRAGMENTS`
    fragments, ``"mesh"`` gives Jacobi (its ``name`` says so)."""
    if kind == "auto":
        kind = "mesh" if cell is not None else "jacobi"
    if kind == "mesh" and constraints is not None and constraints.num_fragments > MESH_MAX_FRAGMENTS:
        kind = "jacobi"
    if kind == "mesh":
        slab = coulomb.slab is not None
        padded = coulomb.slab.cell if slab else cell
        # slabs: neither the mean field nor the density equalisation (both model a filled cell; in the
        # padded cell of a random 20 Å slab, equalisation took 33 → 49 and 48 → 62–63 iterations at
        # 10⁴ and 4·10⁴ atoms, accuracy 1e-4)
        inner = CoarseMeshPreconditioner(positions, padded, hardness, sigma, mean_field=not slab,
                                         equalise=None if slab else MAX_EQUALISATION)
    elif kind == "jacobi":
        diagonal = hardness.clone()
        if sigma is not None:
            diagonal = diagonal + COULOMB_CONSTANT * self_coefficient(sigma, None)
        inner = JacobiPreconditioner(diagonal)
    else:
        raise ValueError(f"unknown preconditioner {kind!r}; use 'auto', 'mesh' or 'jacobi'")
    return ZeroSumPreconditioner(inner, dtype, hardness, kind, constraints)


class TwoLevelPreconditioner:
    """The balancing preconditioner of the module docstring.

    :param one_level: :math:`M_0^{-1}`, projected. :param w: ``[N, k]`` columns (e) in the null space
        of the constraints.
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
        # with a = Wᵀr and y = M₀⁻¹(r − HW E⁻¹a):  z = y + W E⁻¹(a − (HW)ᵀy), four products with [N, k]
        a = self.w.T @ r
        y = self.one_level(r - self.hw @ self._coarse_inverse(a))
        return y + self.w @ self._coarse_inverse(a - self.hw.T @ y)
