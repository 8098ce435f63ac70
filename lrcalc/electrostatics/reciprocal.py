r"""Reciprocal lattice vectors within a cutoff, with the integer search cached per lattice.

For lattice vectors the rows :math:`\mathbf a_i` of ``lattice`` (``[d, 3]``, Å, d = 2 for the
periodic plane of a slab, 3 for a bulk cell), the reciprocal vectors are
:math:`\mathbf k = \sum_i m_i \mathbf b_i` with :math:`\mathbf a_i\cdot\mathbf b_j = 2\pi\delta_{ij}`
and :math:`\mathbf b_j` in the span of the :math:`\mathbf a_i`, i.e. :math:`B = 2\pi (AA^{\mathsf T})^{-1}A`.
Enumerating the candidate integer vectors :math:`\mathbf m` (a box of half-space indices) is a
Python-level step that costs more than the rest of a small system's Coulomb setup; the box depends
only on integer bounds, which stay the same over an MD run even when the padded cell of a slab
changes height slightly every step, so the candidates are cached by their bounds and only the
cheap test :math:`0 < |\mathbf k| \le k_{\max}` runs every call. :math:`\mathbf k = \mathbf m B`
is recomputed from the cell every call (differentiable, for the stress).
"""

from collections import OrderedDict

import torch

_CACHE: OrderedDict = OrderedDict()
#: Number of (lattice, cutoff) pairs whose integer vectors are kept.
CACHE_SIZE = 16


def reciprocal_basis(lattice: torch.Tensor) -> torch.Tensor:
    """Rows :math:`\\mathbf b_j` (1/Å, ``[d, 3]``) with :math:`\\mathbf a_i\\cdot\\mathbf b_j = 2\\pi\\delta_{ij}`."""
    return 2.0 * torch.pi * torch.linalg.solve(lattice @ lattice.T, lattice)


def half_space_indices(lattice: torch.Tensor, k_max: float) -> torch.Tensor:
    """Integer vectors ``m`` (``[K, d]``, in the lattice's dtype) with ``0 < |m B| ≤ k_max``, one of
    each ``±m`` pair (first nonzero component positive)."""
    lattice = lattice.detach()
    basis = reciprocal_basis(lattice)
    # |m_i| = |k·a_i| / 2π ≤ k_max |a_i| / 2π
    bounds = tuple(int(k_max * float(torch.linalg.norm(a)) / (2.0 * torch.pi)) + 1 for a in lattice)
    key = (lattice.dtype, bounds)
    candidates = _CACHE.get(key)
    if candidates is None:
        m = torch.cartesian_prod(*[torch.arange(-b, b + 1, dtype=lattice.dtype) for b in bounds])
        m = m.reshape(-1, len(bounds))
        first = torch.zeros(m.shape[0], dtype=torch.bool)  # the first nonzero component is positive
        undecided = torch.ones(m.shape[0], dtype=torch.bool)
        for column in m.T:
            first |= undecided & (column > 0)
            undecided &= column == 0
        candidates = _CACHE[key] = m[first].to(lattice.device)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return candidates[torch.linalg.norm(candidates @ basis, dim=1) <= k_max]


def half_space_vectors(lattice: torch.Tensor, k_max: float) -> torch.Tensor:
    """Reciprocal vectors ``k = m B`` (1/Å, ``[K, 3]``) with ``0 < |k| ≤ k_max``, one of each ±k
    pair; differentiable with respect to ``lattice``."""
    return half_space_indices(lattice, k_max) @ reciprocal_basis(lattice)
