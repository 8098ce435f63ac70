r"""The interface every term of the Coulomb operator implements.

A strategy is one linear part of the map from charges :math:`q` (e) to potentials

.. math::

    \phi_i = \sum_j A_{ij} q_j \qquad (A \text{ in } 1/\text{Å},\ \phi \text{ in e/Å}),

built once for a geometry: the direct all-pairs sum (:mod:`.direct`), the real-space
remainder of the Ewald split (:mod:`.realspace`), the reciprocal-space sum with explicit
k-vectors (:mod:`.ewald`) or on a mesh (:mod:`.pme`, PME and P3M), and the slab corrections
(:mod:`.slab`). :class:`~.coulomb.CoulombOperator` adds the parts, the self and background
terms, and multiplies by :math:`k_e` to give eV/e; any part can be swapped without touching
the others.
"""

import abc
from collections.abc import Callable

import torch

#: Columns built per application of a strategy when :meth:`CoulombStrategy.matrix` has no closed form.
COLUMN_CHUNK = 256


class CoulombStrategy(abc.ABC):
    """One linear term ``q -> phi`` (e → e/Å) of the Coulomb operator, precomputed per geometry."""

    @abc.abstractmethod
    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        """Potential ``[N, C]`` (e/Å) of ``C`` charge channels ``[N, C]`` (e); differentiable with
        respect to the positions, cell and widths the strategy was built from."""

    @abc.abstractmethod
    def detached(self, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
        """The same map for one charge vector ``[N]`` (e) → ``[N]`` (e/Å), without autograd and
        with its precomputed tables cast to ``dtype`` once: the matrix-vector product of an
        iterative solver."""

    def matrix(self, n_atoms: int, dtype: torch.dtype, device=None) -> torch.Tensor:
        """The map as a dense ``[N, N]`` matrix (1/Å), differentiable like :meth:`__call__`: the
        operator of a direct (dense) solve, built once instead of applied column by column. This
        default applies the map to the identity, :data:`COLUMN_CHUNK` columns at a time (bounding the
        temporaries of a mesh or pair sum); strategies with a closed form override it."""
        eye = torch.eye(n_atoms, dtype=dtype, device=device)
        return torch.cat([self(eye[:, k : k + COLUMN_CHUNK]) for k in range(0, n_atoms, COLUMN_CHUNK)], dim=1)
