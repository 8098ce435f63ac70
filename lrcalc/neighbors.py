"""Neighbor lists: which pairs (i, j, S) satisfy |r_j - r_i + S·cell| < cutoff.

``S`` is the integer cell shift of the image of j. The list is *full* (both i→j and j→i) and
contains self-images (i == j, S ≠ 0) when the cell is smaller than the cutoff.

Back end: vesin. ``benchmarks/neighbor_lists.py`` compares vesin, matscipy and ASE on bulk Cu
(5 Å cutoff): vesin was the fastest and the only one that also takes molecules with a zero cell
directly; matscipy needs a bounding box for those, ASE is 30–50× slower. The function returns plain
numpy arrays: the list is built outside autograd and edge vectors are recomputed in torch.

What vesin (0.6.2, measured in subprocesses) does not survive, and what is done about it:

* Its CPU cell list uses ``n_k = max(1, trunc(D_k / cutoff))`` cells along each axis (``D_k``: the
  distance between cell faces along a periodic axis, 1.01 × the atoms' extent along a non-periodic
  one). Above 10⁵ cells in total it rescales the three counts to about 10⁵ keeping their ratios, and
  when one count then truncates to 0 the process dies (integer division by zero, ``SIGFPE``, exit
  136), e.g. for a molecule with one atom 5·10⁵ Å away at a 5 Å cutoff (1.01·d/cutoff > 10⁵), a
  periodic cell longer than 10⁵ cutoffs along one axis, or a flat sheet wider than ~316 cutoffs.
  Balanced grids (a big 3D cell) are rescaled safely. :func:`_vesin_grid_is_safe` predicts the crash
  from the same formula, and such a search is split instead (see below).
* Atoms far outside a periodic cell (≳ 10¹⁰ Å at a 3.6 Å cell) silently lose pairs (its cell index
  overflows int32). Atoms are therefore wrapped into the cell first; the shifts are corrected.

Splitting is exact. Along a non-periodic direction ``u`` (orthogonal to every periodic cell vector)
the projection ``u·r`` of an atom is the same for all its images, so a pair closer than the cutoff
has projections closer than the cutoff. A search that vesin cannot do is cut in two at the middle
of the longest such direction; each half searches its own atoms plus a halo one cutoff wide and
keeps the pairs centred on its own atoms. An isolated atom 10⁶ Å from a molecule thus costs one
split. A grid that is too fine along *periodic* axes only (a very elongated periodic cell) is
searched with a larger radius instead (at most ``MAX_RADIUS_FACTOR`` × cutoff, pairs then filtered);
beyond that an :class:`~lrcalc.errors.InputError` says why. So does a coordinate beyond
``MAX_COORDINATE``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import vesin

from .errors import InputError

MAX_COORDINATE = 1e9
"""Å. A coordinate farther from the origin is refused: float64 resolves positions there only to
~10⁻⁷ Å, and no structure is that large (graph.py wraps periodic coordinates first)."""

MAX_RADIUS_FACTOR = 4.0
"""Largest search radius, in cutoffs, used to keep vesin's cell grid coarse enough along periodic
axes (every extra pair found is filtered out again, so the cost grows with this factor cubed)."""

_VESIN_MAX_CELLS = 1e5  # vesin's MAX_NUMBER_OF_CELLS (cpu_cell_list.cpp)
_SPLIT_EXTENT = 4.0  # split along a non-periodic direction only when it spans more cutoffs than this


def neighbor_list(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc,
    cutoff: float,
    *,
    symbols: Sequence[str] | None = None,
    label: str = "structure",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full neighbor list within ``cutoff`` (Å).

    Args:
        positions: [N, 3] Cartesian positions in Å.
        cell: [3, 3] cell vectors as rows, in Å (may be zero along non-periodic directions).
        pbc: three booleans (mixed patterns such as slabs are supported).
        cutoff: radius in Å.
        symbols: element symbols of the atoms, only to name an atom in an error message.
        label: what the structure is called in an error message.

    Returns:
        ``(i, j, shifts)``: centers [E], neighbors [E] (int64) and integer cell shifts [E, 3] (int64),
        such that the vector from i to the image of j is ``positions[j] - positions[i] + shifts @ cell``.

    Raises:
        InputError: for a non-finite coordinate or one beyond :data:`MAX_COORDINATE` (naming the
            atom), linearly dependent periodic cell vectors, or a periodic cell too elongated for the
            neighbor search.
    """
    positions = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    pbc = np.array([bool(p) for p in np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))])
    if positions.ndim != 2 or positions.shape[1] != 3 or cell.shape != (3, 3):
        raise ValueError(f"positions must be [N, 3] and cell [3, 3], got {positions.shape} and {cell.shape}")
    cutoff = float(cutoff)
    if not math.isfinite(cutoff) or cutoff <= 0.0:
        raise ValueError(f"the neighbor cutoff must be a positive number of Å, got {cutoff}")
    n_atoms = len(positions)
    if n_atoms == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64)

    _check_coordinates(positions, symbols, label)
    open_dirs = _open_directions(cell, pbc, label)
    wrapped, offsets = _wrap(positions, cell, pbc, open_dirs)

    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    everyone = np.arange(n_atoms)
    _search(wrapped, cell, pbc, cutoff, open_dirs, everyone, np.ones(n_atoms, bool), pieces, label)
    if len(pieces) == 1:
        i, j, shifts = pieces[0]
    elif pieces:
        i, j, shifts = (np.concatenate(parts) for parts in zip(*pieces))
    else:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64)
    if offsets is not None:
        # w = r - n·cell (wrapped): w_j - w_i + S'·cell = r_j - r_i + (S' + n_i - n_j)·cell
        moved = offsets.any(axis=1)
        touched = np.flatnonzero(moved[i] | moved[j])
        shifts[touched] += offsets[i[touched]] - offsets[j[touched]]
    return i, j, shifts


def _atom_name(k: int, symbols) -> str:
    return f"atom {k} ({symbols[k]})" if symbols is not None else f"atom {k}"


def _check_coordinates(positions: np.ndarray, symbols, label: str) -> None:
    finite = np.isfinite(positions).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise InputError(
            f"{label}: {_atom_name(k, symbols)} has a non-finite (NaN or infinite) position "
            f"{positions[k].tolist()}; the neighbor search cannot place it"
        )
    size = np.abs(positions).max(axis=1)
    if size.max() > MAX_COORDINATE:
        k = int(np.argmax(size))
        axis = int(np.argmax(np.abs(positions[k])))
        raise InputError(
            f"{label}: {_atom_name(k, symbols)} is at {'xyz'[axis]} = {positions[k, axis]:.6g} Å, "
            f"beyond the {MAX_COORDINATE:.0e} Å the neighbor search accepts (float64 resolves "
            f"positions there only to {np.spacing(size[k]):.1g} Å); move it closer to the others or "
            "remove it"
        )


def _open_directions(cell: np.ndarray, pbc: np.ndarray, label: str) -> np.ndarray:
    """Orthonormal rows spanning the directions orthogonal to every periodic cell vector (one per
    non-periodic axis; the Cartesian axis itself when the cell allows, as vesin measures extents)."""
    periodic = cell[pbc]
    basis: list[np.ndarray] = []
    for vector in periodic:  # Gram–Schmidt on the periodic vectors
        v = vector - sum((vector @ b) * b for b in basis)
        norm = np.linalg.norm(v)
        if not norm > 1e-8 * max(np.linalg.norm(vector), 1e-300):
            raise InputError(
                f"{label}: pbc={tuple(bool(p) for p in pbc)} but the periodic cell vectors are zero or "
                f"linearly dependent (cell={cell.tolist()})"
            )
        basis.append(v / norm)
    n_periodic = len(basis)
    axes = [k for k in range(3) if not pbc[k]] + [0, 1, 2]
    for k in axes:
        if len(basis) == 3:
            break
        e = np.eye(3)[k]
        v = e - sum((e @ b) * b for b in basis)
        norm = np.linalg.norm(v)
        if norm > 1e-6:
            basis.append(v / norm)
    return np.array(basis[n_periodic:]).reshape(-1, 3)


def _wrap(positions, cell, pbc, open_dirs):
    """Positions moved into the cell along periodic axes, and the integer cell offsets n removed
    (``wrapped = positions - n @ cell``); offsets is None when no atom was outside."""
    if not pbc.any():
        return positions, None
    completed = cell.copy()
    completed[~pbc] = open_dirs
    fractional = np.linalg.solve(completed.T, positions.T).T
    offsets = np.zeros(positions.shape, dtype=np.int64)
    offsets[:, pbc] = np.floor(fractional[:, pbc]).astype(np.int64)
    moved = offsets.any(axis=1)
    if not moved.any():
        return positions, None
    wrapped = positions.copy()
    wrapped[moved] -= offsets[moved] @ cell
    return wrapped, offsets


def _face_distances(points: np.ndarray, cell: np.ndarray, pbc: np.ndarray, open_dirs) -> np.ndarray:
    """The box lengths vesin's cell list divides into cells (see the module docstring)."""
    completed = cell.copy()
    completed[~pbc] = open_dirs
    volume = abs(np.linalg.det(completed))
    lengths = np.empty(3)
    for k in range(3):
        if pbc[k]:
            face = np.cross(completed[(k + 1) % 3], completed[(k + 2) % 3])
            lengths[k] = volume / np.linalg.norm(face)
        else:
            extent = float(points[:, k].max() - points[:, k].min())
            lengths[k] = 1.01 * (extent if extent >= 1e-6 else 1.0)
    return lengths


def _vesin_grid_is_safe(lengths: np.ndarray, radius: float) -> bool:
    """False when vesin's CPU cell list would divide by zero for these box lengths (a crash).

    Mirrors its grid (cpu_cell_list.cpp in vesin 0.6.2); where rounding could go either way
    (a length at a whole number of radii, a rescaled count at a whole number), it answers False.
    """
    for rounding in (1 - 1e-9, 1 + 1e-9):
        n = [max(1.0, math.floor(length / radius * rounding)) for length in lengths]
        if n[0] * n[1] * n[2] <= _VESIN_MAX_CELLS:
            continue
        # vesin keeps the ratios n0/n1 and n1/n2 while bringing the total down to _VESIN_MAX_CELLS
        ratio_xy, ratio_yz = n[0] / n[1], n[1] / n[2]
        n2 = math.floor(np.cbrt(_VESIN_MAX_CELLS / (ratio_xy * ratio_yz * ratio_yz)) * (1 - 1e-9))
        n1 = math.floor(ratio_yz * n2 * (1 - 1e-9))
        n0 = math.floor(ratio_xy * n1 * (1 - 1e-9))
        if min(n0, n1, n2) < 1:
            return False
    return True


def _vesin(points, cell, pbc, radius):
    calc = vesin.NeighborList(cutoff=float(radius), full_list=True)
    i, j, shifts = calc.compute(
        points=np.ascontiguousarray(points, dtype=np.float64),
        box=np.ascontiguousarray(cell, dtype=np.float64),
        periodic=[bool(p) for p in pbc],
        quantities="ijS",
    )
    return i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64)


def _search(points, cell, pbc, cutoff, open_dirs, subset, core, pieces, label) -> None:
    """Append to ``pieces`` the pairs (global indices) of the atoms ``subset`` whose center is in
    ``core`` (a mask over ``subset``); the neighbors of a core atom all lie in ``subset``."""
    if not core.any() or (len(subset) < 2 and not pbc.any()):
        return
    sub = points[subset]
    lengths = _face_distances(sub, cell, pbc, open_dirs)
    if _vesin_grid_is_safe(lengths, cutoff):
        i, j, shifts = _vesin(sub, cell, pbc, cutoff)
        if not core.all():
            keep = core[i]
            i, j, shifts = i[keep], j[keep], shifts[keep]
        pieces.append((subset[i], subset[j], shifts))
        return

    if len(open_dirs):
        projections = sub @ open_dirs.T
        extents = projections.max(axis=0) - projections.min(axis=0)
        d = int(np.argmax(extents))
        if extents[d] > _SPLIT_EXTENT * cutoff:
            p = projections[:, d]
            middle = 0.5 * (p.min() + p.max())
            for side, in_core in ((p < middle + cutoff, p < middle), (p >= middle - cutoff, p >= middle)):
                side_core = (core & in_core)[side]
                _search(points, cell, pbc, cutoff, open_dirs, subset[side], side_core, pieces, label)
            return

    # Too many cells along periodic axes: search a larger radius (a coarser grid), filter after.
    radius = cutoff
    while not _vesin_grid_is_safe(lengths, radius):
        radius *= 1.02
        if radius > MAX_RADIUS_FACTOR * cutoff:
            raise InputError(
                f"{label}: the periodic cell is too elongated for the neighbor search (vesin's cell "
                f"list): box lengths {np.round(lengths, 3).tolist()} Å span "
                f"{[max(1, math.floor(x / cutoff)) for x in lengths]} cutoffs of {cutoff} Å, a grid it "
                f"cannot rescale below {_VESIN_MAX_CELLS:.0e} cells even with a search radius of "
                f"{MAX_RADIUS_FACTOR:g} cutoffs; make the cell less elongated (e.g. less vacuum along "
                "a periodic axis, or pbc=False along it)"
            )
    i, j, shifts = _vesin(sub, cell, pbc, radius)
    vectors = sub[j] - sub[i] + shifts @ cell
    keep = core[i] & (np.einsum("ex,ex->e", vectors, vectors) < cutoff * cutoff)
    pieces.append((subset[i[keep]], subset[j[keep]], shifts[keep]))


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
