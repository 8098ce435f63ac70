r"""The linear constraints of the Qeq charges: the total charge of the structure, or of each fragment.

With fragments :math:`f = 1 \dots F` (molecules, or any partition of the atoms) and the indicator
matrix :math:`C \in \{0, 1\}^{N\times F}` (:math:`C_{if} = 1` when atom :math:`i` belongs to
fragment :math:`f`), the charges (e) satisfy

.. math::

    C^{\mathsf T} q = Q, \qquad\text{i.e.}\qquad \sum_{i \in f} q_i = Q_f \quad (f = 1 \dots F),

with the fragment totals :math:`Q_f` (e). One fragment holding every atom is the usual total-charge
constraint :math:`\mathbf 1^{\mathsf T} q = Q`. The optimality conditions of the Qeq energy become
:math:`Hq + \chi = C\mu`: one chemical potential :math:`\mu_f` (eV/e) per fragment, so no charge
flows between fragments, however close, and none is lost to a far-away one (the global constraint
lets charge move between fragments at any distance, the textbook failure of Qeq at dissociation).

The solvers work on the null space :math:`\{v : C^{\mathsf T} v = 0\}` (per-fragment zero-sum
vectors) with its orthogonal projection

.. math::

    P v = v - C (C^{\mathsf T} C)^{-1} C^{\mathsf T} v,

which removes each fragment's mean. A single fragment takes the cheaper path of the global mean,
so a solve without fragments runs the same arithmetic as before fragments existed.
"""

from __future__ import annotations

import torch


class ChargeConstraints:
    """Fragment totals :math:`C^{\\mathsf T} q = Q` (module docstring) of one structure.

    :param totals: ``[F]`` total charge of each fragment (e), float64.
    :param fragments: ``[N]`` fragment index of each atom (0 … F−1, every fragment non-empty), or
        ``None``: one fragment of all ``n`` atoms. :param n: number of atoms.

    Build with :meth:`total` or :meth:`from_fragments` (which validate their inputs).
    """

    def __init__(self, totals: torch.Tensor, fragments: torch.Tensor | None, n: int):
        self.totals = totals
        self.fragments = fragments
        self.n = n
        if fragments is None:
            self.counts = totals.new_tensor([float(n)])
        else:
            ones = torch.ones_like(fragments, dtype=totals.dtype)
            self.counts = torch.zeros_like(totals).index_add_(0, fragments, ones)  # atoms per fragment

    @classmethod
    def total(cls, n: int, total_charge: float, like: torch.Tensor) -> "ChargeConstraints":
        """One constraint :math:`\\sum_i q_i = Q` for ``n`` atoms (``like``: dtype and device)."""
        return cls(torch.tensor([float(total_charge)], dtype=like.dtype, device=like.device), None, n)

    @classmethod
    def from_fragments(cls, fragments, fragment_charges, total_charge: float, n: int,
                       like: torch.Tensor) -> "ChargeConstraints":
        """Constraints of ``fragments`` ``[N]`` (ints 0 … F−1) with totals ``fragment_charges``
        ``[F]`` (e), checked against ``total_charge`` (e) of the structure.

        :raises ValueError: a shape, index or sum that does not fit (the message says which).
        """
        fragments = torch.as_tensor(fragments, device=like.device)
        if fragments.shape != (n,):
            raise ValueError(f"fragments must hold one fragment index per atom: shape [N] = [{n}], "
                             f"got {list(fragments.shape)}")
        if fragments.dtype.is_floating_point or fragments.dtype.is_complex or fragments.dtype == torch.bool:
            raise ValueError(f"fragments must be integer indices, got dtype {fragments.dtype}")
        fragments = fragments.long()
        totals = torch.as_tensor(fragment_charges, dtype=like.dtype, device=like.device).reshape(-1)
        num = totals.shape[0]
        if num == 0:
            raise ValueError("fragment_charges is empty: give the total charge (e) of each fragment")
        if not torch.isfinite(totals).all():
            raise ValueError(f"fragment_charges contains NaN or infinite values: {totals.tolist()}")
        low, high = int(fragments.min()), int(fragments.max())
        if low < 0 or high >= num:
            raise ValueError(f"fragment indices must lie in 0 … F−1 = {num - 1} (one per entry of "
                             f"fragment_charges), got indices from {low} to {high}")
        counts = torch.bincount(fragments, minlength=num)
        empty = torch.nonzero(counts == 0).flatten().tolist()
        if empty:
            raise ValueError(f"fragment(s) {empty} of the {num} in fragment_charges have no atoms: "
                             "every fragment needs at least one atom")
        summed = float(totals.sum())
        if abs(summed - float(total_charge)) > 1e-6 * max(1.0, abs(float(total_charge))):
            raise ValueError(f"the fragment charges {totals.tolist()} add up to {summed:g} e, but the "
                             f"total charge is {float(total_charge):g} e: give both consistently")
        if num == 1:  # one fragment of every atom: the total-charge constraint, the same arithmetic
            return cls.total(n, float(totals[0]), like)
        return cls(totals, fragments, n)

    @property
    def num_fragments(self) -> int:
        return int(self.totals.shape[0])

    @property
    def single(self) -> bool:
        """One fragment of all atoms: the total-charge constraint."""
        return self.fragments is None

    def sums(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`C^{\\mathsf T} v`: ``[F]`` (or ``[F, k]`` for ``v`` ``[N, k]``) sums over each fragment."""
        if self.fragments is None:
            return v.sum(0, keepdim=True)
        out = torch.zeros((self.num_fragments,) + tuple(v.shape[1:]), dtype=v.dtype, device=v.device)
        return out.index_add_(0, self.fragments, v)

    def spread(self, values: torch.Tensor) -> torch.Tensor:
        """:math:`C a`: per-fragment ``values`` ``[F]`` to their atoms ``[N]``."""
        if self.fragments is None:
            return values.expand(self.n)
        return values[self.fragments]

    def project(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`P v`: ``v`` ``[N]`` with each fragment's mean removed (differentiable)."""
        if self.fragments is None:
            return v - v.mean()
        return v - self.spread(self.sums(v) / self.counts.to(v.dtype))

    def correct(self, q: torch.Tensor, totals: torch.Tensor | None = None) -> torch.Tensor:
        """``q`` ``[N]`` shifted uniformly within each fragment to the totals (default :attr:`totals`),
        the nearest point of the constraint set."""
        totals = self.totals if totals is None else totals
        if self.fragments is None:
            return q + (float(totals[0]) - q.sum()) / self.n
        return q + self.spread((totals.to(q.dtype) - self.sums(q)) / self.counts.to(q.dtype))

    def uniform(self, totals: torch.Tensor | None = None) -> torch.Tensor:
        """The uniform start: each fragment's total spread evenly over its atoms ``[N]`` (e)."""
        totals = self.totals if totals is None else totals
        if self.fragments is None:
            return torch.full((self.n,), float(totals[0]) / self.n, dtype=totals.dtype, device=totals.device)
        return self.spread(totals / self.counts)

    def indicator(self, dtype: torch.dtype) -> torch.Tensor:
        """:math:`C` as a dense ``[N, F]`` matrix."""
        if self.fragments is None:
            return torch.ones(self.n, 1, dtype=dtype, device=self.totals.device)
        return torch.nn.functional.one_hot(self.fragments, self.num_fragments).to(dtype)

    def violation(self, q: torch.Tensor) -> float:
        """Largest :math:`|\\sum_{i\\in f} q_i - Q_f|` (e)."""
        return float((self.sums(q.to(self.totals.dtype)) - self.totals).abs().max())

    def holds_for_columns(self, w: torch.Tensor, tolerance: float = 1e-6) -> bool:
        """Whether the columns of ``w`` ``[N, k]`` lie in the null space (per-fragment sums below
        ``tolerance`` times their norm): a coarse space recycled from solves of other fragments
        does not."""
        sums = self.sums(w.double()).abs().amax(0)
        return bool((sums <= tolerance * torch.linalg.norm(w.double(), dim=0).clamp_min(1e-300)).all())
