"""Neighbor lists: which pairs (i, j, S) satisfy |r_j - r_i + S·cell| < cutoff.

``S`` is the integer cell shift of the image of j. The list is *full* (both i→j and j→i) and
contains self-images (i == j, S ≠ 0) when the cell is smaller than the cutoff.

Back end: vesin. ``benchmarks/neighbor_lists.py`` compares vesin, matscipy and ASE on bulk Cu
(5 Å cutoff): vesin was the fastest and the only one that also takes molecules with a zero cell
directly; matscipy needs a bounding box for those, ASE is 30–50× slower. The function returns plain
numpy arrays: the list is built outside autograd and edge vectors are recomputed in torch.
"""

from __future__ import annotations

import numpy as np
import vesin


def neighbor_list(
    positions: np.ndarray, cell: np.ndarray, pbc, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full neighbor list within ``cutoff`` (Å).

    Args:
        positions: [N, 3] Cartesian positions in Å.
        cell: [3, 3] cell vectors as rows, in Å (may be zero along non-periodic directions).
        pbc: three booleans (mixed patterns such as slabs are supported).
        cutoff: radius in Å.

    Returns:
        ``(i, j, shifts)``: centers [E], neighbors [E] (int64) and integer cell shifts [E, 3] (int64),
        such that the vector from i to the image of j is ``positions[j] - positions[i] + shifts @ cell``.
    """
    calc = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shifts = calc.compute(
        points=np.ascontiguousarray(positions, dtype=np.float64),
        box=np.ascontiguousarray(cell, dtype=np.float64),
        periodic=[bool(p) for p in pbc],
        quantities="ijS",
    )
    return i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64)


def torch_cluster_available() -> bool:
    """Whether the optional ``torch-cluster`` (``pip install "lrcalc[cluster]"``) is installed."""
    try:
        import torch_cluster  # noqa: F401
    except ImportError:
        return False
    return True


def radius_graph_on_device(positions, cutoff: float):
    """Full neighbor list of a non-periodic structure, computed where ``positions`` live (e.g. a GPU).

    Uses ``torch_cluster.radius_graph`` with no cap on the number of neighbors (its default of 32
    would silently drop pairs). Returns ``(i, j)`` as int64 tensors on the same device; all cell
    shifts are zero.
    """
    from torch_cluster import radius_graph

    edge_index = radius_graph(
        positions, r=float(cutoff), loop=False, max_num_neighbors=max(int(positions.shape[0]) - 1, 1)
    )
    # torch_cluster's row 0 is the source (neighbor j), row 1 the target (center i).
    return edge_index[1].long(), edge_index[0].long()
