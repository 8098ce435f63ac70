r"""Real-space pair list for the short-range sums.

The list is a *half* list: every unordered pair :math:`\{i, j\}` within the cutoff
appears once, with the integer cell shift :math:`\mathbf n` such that the pair vector is
:math:`\mathbf r_{ij} = \mathbf x_j - \mathbf x_i + \mathbf n \cdot \mathbf{h}` (rows of
``h`` are the cell vectors, Å). Periodic images of an atom itself (:math:`i = j`,
:math:`\mathbf n \ne 0`) are included once per :math:`\pm\mathbf n` pair.

The search runs in `vesin <https://github.com/Luthaf/vesin>`_ (a cell list, O(N)) on
detached coordinates; the pair vectors are then rebuilt in torch so that they stay
differentiable with respect to positions and cell.
"""

import numpy as np
import torch
import vesin


class PairList:
    """Indices and shifts of the pairs within ``cutoff`` (Å) of each other.

    :ivar i: first atom of each pair, int64 tensor ``[P]``.
    :ivar j: second atom of each pair, int64 tensor ``[P]``.
    :ivar shifts: integer cell shifts, int32 tensor ``[P, 3]``.
    :ivar distances: detached pair distances ``[P]`` (Å) at the time of the search.
    :ivar cutoff: the cutoff used (Å).
    """

    def __init__(self, i, j, shifts, distances, cutoff: float):
        self.i = i
        self.j = j
        self.shifts = shifts
        self.distances = distances
        self.cutoff = cutoff

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def vectors(self, positions: torch.Tensor, cell: torch.Tensor | None) -> torch.Tensor:
        r"""Pair vectors :math:`\mathbf r_{ij}` (Å), differentiable, shape ``[P, 3]``."""
        vec = positions[self.j] - positions[self.i]
        if cell is not None and self.shifts.shape[0] > 0:
            s = self.shifts.to(cell.dtype)
            vec = vec + s[:, :1] * cell[0] + s[:, 1:2] * cell[1] + s[:, 2:] * cell[2]
        return vec


def build_pair_list(
    positions: torch.Tensor,
    cell: torch.Tensor | None,
    pbc: tuple[bool, bool, bool],
    cutoff: float,
) -> PairList:
    """Half pair list of all pairs closer than ``cutoff`` (Å).

    :param positions: ``[N, 3]`` Cartesian positions (Å).
    :param cell: ``[3, 3]`` cell vectors as rows (Å), or ``None`` when nothing is periodic.
    :param pbc: periodicity along each cell vector.
    :param cutoff: real-space cutoff (Å).
    """
    pos = positions.detach().cpu().numpy().astype(np.float64)
    if cell is None:
        box = np.zeros((3, 3))
        periodic = [False, False, False]
    else:
        box = cell.detach().cpu().numpy().astype(np.float64)
        periodic = [bool(p) for p in pbc]
    search = vesin.NeighborList(cutoff=float(cutoff), full_list=False)
    i, j, s, d = search.compute(pos, box, periodic, "ijSd", copy=False)
    device = positions.device
    return PairList(
        torch.from_numpy(i.astype(np.int64)).to(device),
        torch.from_numpy(j.astype(np.int64)).to(device),
        torch.from_numpy(s.astype(np.int32)).to(device),
        torch.from_numpy(d.astype(np.float64)).to(device=device, dtype=positions.dtype),
        float(cutoff),
    )
