"""From ``ase.Atoms`` to the graph a model reads.

A graph is a plain ``dict`` of tensors; a batch of structures is one graph whose atoms carry the
index of their structure in ``batch``.

====================  ==========  =====================================================================
key                   shape       meaning
====================  ==========  =====================================================================
``species``           [N]         index of each atom's element in the model's ``species`` list
``positions``         [N, 3]      Cartesian positions, Å, wrapped into the cell along periodic axes
``cell``              [B, 3, 3]   cell vectors as rows, Å (zero rows along non-periodic directions
                                  are allowed)
``pbc``               [B, 3]      periodicity of each structure (bool)
``edge_index``        [2, E]      row 0: center atom i, row 1: neighbor atom j (global indices)
``cell_shifts``       [E, 3]      integer cell shift S of the image of j (stored in the float dtype)
``batch``             [N]         structure index of each atom
``num_atoms``         [B]         atoms per structure
``total_charge``      [B]         total charge of each structure, e (``atoms.info["charge"]``, default 0)
``fragment``          [N]         fragment of each atom within its structure, 0 … F_b − 1 (optional)
``fragment_charges``  [ΣF_b]      total charge of each fragment, e, structure after structure (optional)
``num_fragments``     [B]         fragments per structure (optional)
====================  ==========  =====================================================================

The fragment fields come from ``atoms.info["fragment_charges"]`` (a list: the total charge in e of
fragments 0, 1, …) together with ``atoms.arrays["fragment"]`` (an integer per atom: its fragment);
every fragment needs at least one atom. They are present when every structure of the batch has them.
A Qeq model with ``charge_constraint: fragments`` keeps each fragment's charge (no charge transfer
between molecules); other models ignore them. Without ``atoms.info["charge"]`` the total charge is the
sum of the fragment charges; with it, the two must agree. For example, a cation next to a neutral
molecule::

    atoms.arrays["fragment"] = np.array([0] * len(cation) + [1] * len(molecule))
    atoms.info["fragment_charges"] = [1.0, 0.0]

Edge vectors are *not* stored: :func:`edge_vectors` recomputes them in torch from positions, cell
and shifts, so that forces and stress follow by autograd.

Every structure is validated here, so that the calculator and training see the same clear errors:
empty structures, non-finite coordinates, a periodic direction without a cell, unknown elements
and atoms closer than :data:`MIN_DISTANCE` Å.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from ase import Atoms
from ase.geometry import wrap_positions

from .errors import InputError
from .neighbors import neighbor_list, radius_graph_on_device, torch_cluster_available

MIN_DISTANCE = 0.1
"""Å. Two atoms (or an atom and a periodic image) closer than this are rejected as overlapping."""

FRAGMENT_KEY = "fragment"
"""``atoms.arrays`` key of the fragment index (0 … F − 1) of each atom."""
FRAGMENT_CHARGES_KEY = "fragment_charges"
"""``atoms.info`` key of the total charge (e) of each fragment, a list in fragment order."""


def _validate(atoms: Atoms, species: Sequence[str], label: str) -> None:
    if len(atoms) == 0:
        raise InputError(f"{label}: the Atoms object has no atoms")
    symbols = atoms.get_chemical_symbols()
    unknown = sorted(set(symbols) - set(species))
    if unknown:
        raise InputError(
            f"{label}: element(s) {', '.join(unknown)} not known to this model "
            f"(it was built for {', '.join(species)})"
        )
    positions = atoms.positions
    bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
    if bad.size:
        shown = ", ".join(f"{k} ({symbols[k]})" for k in bad[:5])
        raise InputError(f"{label}: non-finite (NaN or infinite) positions for atom(s) {shown}")
    cell = np.asarray(atoms.cell[:], dtype=np.float64)
    if not np.isfinite(cell).all():
        raise InputError(f"{label}: the cell contains NaN or infinite values")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        periodic_vectors = cell[pbc]
        # Gram determinant: the (area/length/volume)² spanned by the periodic cell vectors.
        gram = np.linalg.det(periodic_vectors @ periodic_vectors.T)
        scale = np.prod(np.linalg.norm(periodic_vectors, axis=1) ** 2)
        if not scale > 0 or gram <= 1e-12 * scale:
            raise InputError(
                f"{label}: pbc={tuple(bool(p) for p in pbc)} but the periodic cell vectors are zero "
                f"or linearly dependent (cell={cell.tolist()}); set a cell or use pbc=False"
            )
        if pbc.all() and abs(np.linalg.det(cell)) < 1e-6:
            raise InputError(f"{label}: pbc=True with a zero-volume cell {cell.tolist()}")


def _check_overlaps(atoms, positions, i, j, shifts, cell, label) -> None:
    vectors = positions[j] - positions[i] + shifts @ cell
    distances = np.linalg.norm(vectors, axis=1)
    close = np.flatnonzero(distances < MIN_DISTANCE)
    if close.size:
        k = close[0]
        a, b = int(i[k]), int(j[k])
        symbols = atoms.get_chemical_symbols()
        image = "" if not shifts[k].any() else f" (periodic image {shifts[k].tolist()})"
        raise InputError(
            f"{label}: atoms {a} ({symbols[a]}) and {b} ({symbols[b]}){image} are "
            f"{distances[k]:.4f} Å apart, closer than {MIN_DISTANCE} Å: overlapping atoms"
        )


def read_fragments(atoms: Atoms, charge_key: str, label: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The fragment of each atom ``[N]`` (ints) and the charge of each fragment ``[F]`` (e) of a
    structure (``atoms.arrays["fragment"]``, ``atoms.info["fragment_charges"]``), or ``None`` when it
    has no ``fragment_charges``.

    Raises:
        InputError: fragment charges without fragment indices, non-integer or out-of-range indices, a
            fragment without atoms, or fragment charges that disagree with ``atoms.info[charge_key]``.
    """
    if FRAGMENT_CHARGES_KEY not in atoms.info:
        return None
    charges = np.atleast_1d(np.asarray(atoms.info[FRAGMENT_CHARGES_KEY], dtype=np.float64)).reshape(-1)
    if FRAGMENT_KEY not in atoms.arrays:
        raise InputError(f"{label}: atoms.info[{FRAGMENT_CHARGES_KEY!r}] is set but "
                         f"atoms.arrays[{FRAGMENT_KEY!r}] is not: give the fragment (0, 1, …) of every atom")
    raw = np.asarray(atoms.arrays[FRAGMENT_KEY])
    whole = raw.dtype.kind in "iu" or (raw.dtype.kind == "f" and np.isfinite(raw).all()
                                       and np.array_equal(raw, np.round(raw)))
    if raw.shape != (len(atoms),) or not whole:
        raise InputError(f"{label}: atoms.arrays[{FRAGMENT_KEY!r}] must hold one integer per atom, got "
                         f"shape {raw.shape} and values {raw.reshape(-1)[:5].tolist()}")
    fragment = raw.astype(np.int64)
    if not len(charges) or not np.isfinite(charges).all():
        raise InputError(f"{label}: atoms.info[{FRAGMENT_CHARGES_KEY!r}] must be a list of finite charges, "
                         f"got {charges.tolist()}")
    if fragment.min() < 0 or fragment.max() >= len(charges):
        raise InputError(f"{label}: fragment indices run from {fragment.min()} to {fragment.max()}, but "
                         f"{len(charges)} fragment charges are given (indices 0 … {len(charges) - 1})")
    empty = np.flatnonzero(np.bincount(fragment, minlength=len(charges)) == 0)
    if empty.size:
        raise InputError(f"{label}: fragment(s) {empty.tolist()} have a charge but no atoms")
    if charge_key in atoms.info:
        total = float(atoms.info[charge_key])
        if abs(total - charges.sum()) > 1e-6 * max(1.0, abs(total)):
            raise InputError(f"{label}: the fragment charges {charges.tolist()} add up to "
                             f"{charges.sum():g} e, but atoms.info[{charge_key!r}] = {total:g} e")
    return fragment, charges


def wrapped_positions(atoms: Atoms) -> np.ndarray:
    """Positions (Å, float64) with every atom moved into the cell along the periodic directions.

    The same structure, whatever image of it the user holds: a slab shifted in-plane by 10⁶ Å gives
    the same graph (up to float64 rounding of the shift), and the edge vectors r_j − r_i + S·h are
    differences of numbers of the size of the cell, not of the shift.
    """
    if not atoms.pbc.any():
        return np.asarray(atoms.positions, dtype=np.float64)
    return wrap_positions(atoms.positions, atoms.cell, pbc=atoms.pbc, eps=0.0)


BACKENDS = ("auto", "vesin", "torch-cluster")


def _use_torch_cluster(backend: str, frame: Atoms, device) -> bool:
    if backend not in BACKENDS:
        raise ValueError(f"neighbor_backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "vesin":
        return False
    periodic = bool(np.any(frame.pbc))
    if backend == "torch-cluster":
        if periodic:
            raise InputError("the torch-cluster neighbor back end handles non-periodic structures only")
        if not torch_cluster_available():
            raise ImportError('neighbor_backend="torch-cluster" needs torch-cluster: pip install "lrcalc[cluster]"')
        return True
    return not periodic and torch.device(device).type != "cpu" and torch_cluster_available()


def atoms_to_graph(
    atoms: Atoms | Sequence[Atoms],
    species: Sequence[str],
    cutoff: float,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    charge_key: str = "charge",
    neighbor_backend: str = "auto",
) -> dict[str, torch.Tensor]:
    """Build the (batched) graph of one structure or a sequence of structures.

    Args:
        atoms: an ``ase.Atoms`` or a sequence of them (a batch).
        species: element symbols known to the model; ``species[k]`` gets index k.
        cutoff: neighbor cutoff radius in Å.
        dtype: float dtype of positions, cell and shifts (float64, the default, keeps the geometry
            exact; models promote any dtype to float64).
        device: torch device of the returned tensors.
        charge_key: ``atoms.info`` key holding the total charge in e (default: the sum of the
            fragment charges when a structure has them, else 0).
        neighbor_backend: ``"vesin"`` (CPU, every kind of cell), ``"torch-cluster"`` (on ``device``,
            molecules only; needs the optional torch-cluster) or ``"auto"``: torch-cluster for
            molecules when ``device`` is not the CPU and torch-cluster is installed, vesin otherwise.

    Raises:
        InputError: for an empty structure, unknown elements, non-finite positions, a periodic
            direction without a cell, atoms closer than ``MIN_DISTANCE`` Å, or fragments that do not
            fit (:func:`read_fragments`).
    """
    frames = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    if not frames:
        raise InputError("an empty batch: no structures given")
    index_of = {symbol: k for k, symbol in enumerate(species)}

    species_idx, positions, cells, pbcs, batch, num_atoms, charges = [], [], [], [], [], [], []
    centers, neighbors, shift_list = [], [], []
    fragments = []
    offset = 0
    for b, frame in enumerate(frames):
        label = "structure" if len(frames) == 1 else f"structure {b} of the batch"
        _validate(frame, species, label)
        cell = np.asarray(frame.cell[:], dtype=np.float64)
        frame_positions = wrapped_positions(frame)
        if _use_torch_cluster(neighbor_backend, frame, device):
            on_device = torch.as_tensor(frame_positions, dtype=torch.float64, device=device)
            i, j = (t.cpu().numpy() for t in radius_graph_on_device(on_device, cutoff))
            shifts = np.zeros((len(i), 3), dtype=np.int64)
        else:
            i, j, shifts = neighbor_list(frame_positions, cell, frame.pbc, cutoff,
                                         symbols=frame.get_chemical_symbols(), label=label)
        _check_overlaps(frame, frame_positions, i, j, shifts, cell, label)
        n = len(frame)
        species_idx.append(np.array([index_of[s] for s in frame.get_chemical_symbols()]))
        positions.append(frame_positions)
        cells.append(cell)
        pbcs.append(np.asarray(frame.pbc, dtype=bool))
        batch.append(np.full(n, b))
        num_atoms.append(n)
        frame_fragments = read_fragments(frame, charge_key, label)
        fragments.append(frame_fragments)
        default_charge = 0.0 if frame_fragments is None else float(frame_fragments[1].sum())
        charges.append(float(frame.info.get(charge_key, default_charge)))
        centers.append(i + offset)
        neighbors.append(j + offset)
        shift_list.append(shifts)
        offset += n

    def tensor(x, dt):
        return torch.as_tensor(np.asarray(x), dtype=dt, device=device)

    graph = {
        "species": tensor(np.concatenate(species_idx), torch.long),
        "positions": tensor(np.concatenate(positions), dtype),
        "cell": tensor(np.stack(cells), dtype),
        "pbc": tensor(np.stack(pbcs), torch.bool),
        "edge_index": tensor(np.stack([np.concatenate(centers), np.concatenate(neighbors)]), torch.long),
        "cell_shifts": tensor(np.concatenate(shift_list).reshape(-1, 3), dtype),
        "batch": tensor(np.concatenate(batch), torch.long),
        "num_atoms": tensor(num_atoms, torch.long),
        "total_charge": tensor(charges, dtype),
    }
    if all(f is not None for f in fragments):
        graph["fragment"] = tensor(np.concatenate([f[0] for f in fragments]), torch.long)
        graph["fragment_charges"] = tensor(np.concatenate([f[1] for f in fragments]), dtype)
        graph["num_fragments"] = tensor([len(f[1]) for f in fragments], torch.long)
    return graph


def edge_vectors(
    positions: torch.Tensor, cell: torch.Tensor, graph: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Vectors from each center i to the image of neighbor j, [E, 3] in Å.

    ``r_ij = r_j - r_i + S_ij · cell_b`` with ``b`` the structure of atom i. Differentiable with
    respect to ``positions`` [N, 3] and ``cell`` [B, 3, 3].
    """
    i, j = graph["edge_index"]
    edge_cell = cell[graph["batch"][i]]
    offsets = torch.einsum("ek,ekx->ex", graph["cell_shifts"].to(edge_cell.dtype), edge_cell)
    return positions[j] - positions[i] + offsets


def structure_fragments(graph: dict[str, torch.Tensor]):
    """The fragments of each structure of a batched graph: ``(fragment [n_b], fragment_charges [F_b])``
    per structure, in order, or ``None`` when the graph has no fragment fields."""
    if "fragment_charges" not in graph:
        return None
    atoms = torch.split(graph["fragment"], graph["num_atoms"].tolist())
    charges = torch.split(graph["fragment_charges"], graph["num_fragments"].tolist())
    return list(zip(atoms, charges))


def structures(graph: dict[str, torch.Tensor], cell: torch.Tensor):
    """The structures of a batched graph, one at a time: ``(b, atoms, pbc, structure_cell)`` with
    ``atoms`` the slice of its atoms, ``pbc`` three booleans and ``structure_cell`` its [3, 3] cell
    (Å) from ``cell`` [B, 3, 3], or ``None`` when it is not periodic (a molecule)."""
    start = 0
    for b, n in enumerate(graph["num_atoms"].tolist()):
        pbc = tuple(bool(p) for p in graph["pbc"][b])
        yield b, slice(start, start + n), pbc, (cell[b] if any(pbc) else None)
        start += n
