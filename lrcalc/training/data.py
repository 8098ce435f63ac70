"""Labelled data for training and evaluation: read, check, split, batch.

    extxyz ──ase.io.read──► frames + labels ──atoms_to_graph, once per frame──► cached graphs
           ──collate(indices)──► one batched graph + its labels

Labels (ASE units) are looked up by key in ``atoms.info`` / ``atoms.arrays`` and then in the
results of the calculator ``ase.io`` attaches (the extxyz reader puts ``energy``, ``forces``,
``stress`` there):

=============  ==========  ============================================================
label          shape       unit
=============  ==========  ============================================================
``energy``     [B]         eV (absolute: the model's per-species shifts absorb the offset)
``forces``     [N, 3]      eV/Å
``stress``     [B, 3, 3]   eV/Å³, ASE sign (from Voigt 6 or 3×3 stress, or −virial / volume)
``charges``    [N]         e
=============  ==========  ============================================================

Fragments (Qeq models with ``charge_constraint: fragments``) are read per frame by
:func:`assign_fragments` from the ``data`` keys ``fragment_key`` and ``fragment_charge_keys`` into the
``atoms.arrays["fragment"]`` / ``atoms.info["fragment_charges"]`` that :func:`lrcalc.atoms_to_graph`
reads; frames that already carry those two keys need no configuration.

Neighbor lists are computed once per frame and kept: an epoch only concatenates cached tensors.
Statistics of the training set (energy shifts and scale, neighbor count) are in
:mod:`lrcalc.training.statistics`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, InputError
from ..graph import FRAGMENT_CHARGES_KEY, FRAGMENT_KEY, atoms_to_graph
# also importable from here, where they were before lrcalc.training.statistics
from ..domain import charge_keys  # noqa: F401  (the keys of a total_charge_key)
from .statistics import average_num_neighbors, energy_scale, energy_shifts, force_rms  # noqa: F401

LABELS = ("energy", "forces", "stress", "charges")
SPLIT_NAMES = ("train", "val", "test")
FRAGMENT_CHARGE_ORDERS = ("as_listed", "closed_shell")
#: Most fragments per frame for which ``fragment_charge_order: closed_shell`` tries every order.
MAX_PERMUTED_FRAGMENTS = 6


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lookup(atoms, key: str, per_atom: bool):
    """The value stored under ``key`` for a frame, or ``None``."""
    if key is None:
        return None
    store = atoms.arrays if per_atom else atoms.info
    if key in store:
        return np.asarray(store[key], dtype=np.float64)
    results = getattr(atoms.calc, "results", None) or {}
    if key in results:
        return np.asarray(results[key], dtype=np.float64)
    if per_atom and key == "initial_charges" and atoms.has("initial_charges"):
        return np.asarray(atoms.get_initial_charges(), dtype=np.float64)
    return None


def _as_stress_matrix(value: np.ndarray) -> np.ndarray | None:
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if value.size == 9:
        return value.reshape(3, 3)
    if value.size == 6:  # Voigt order xx yy zz yz xz xy
        xx, yy, zz, yz, xz, xy = value
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return None


def frame_labels(atoms, keys: dict) -> dict[str, np.ndarray]:
    """The labels a frame has, in ASE units (see the module docstring); absent labels are left out.

    ``keys`` maps ``energy_key``, ``forces_key``, ``stress_key``, ``virial_key`` and
    ``charges_key`` to the names used in the file (``None`` skips a label); ``charges_scale``
    (default 1) multiplies the charge labels.
    """
    labels = {}
    energy = _lookup(atoms, keys.get("energy_key"), per_atom=False)
    if energy is not None and energy.size == 1:
        labels["energy"] = energy.reshape(())
    forces = _lookup(atoms, keys.get("forces_key"), per_atom=True)
    if forces is not None and forces.shape == (len(atoms), 3):
        labels["forces"] = forces
    stress = _lookup(atoms, keys.get("stress_key"), per_atom=False)
    stress = None if stress is None else _as_stress_matrix(stress)
    if stress is None:
        virial = _lookup(atoms, keys.get("virial_key"), per_atom=False)
        virial = None if virial is None else _as_stress_matrix(virial)
        volume = abs(atoms.cell.volume) if atoms.pbc.any() else 0.0
        if virial is not None and volume > 1e-12:
            stress = -virial / volume
    if stress is not None:
        labels["stress"] = stress
    charges = _lookup(atoms, keys.get("charges_key"), per_atom=True)
    if charges is not None and charges.shape == (len(atoms),):
        scale = keys.get("charges_scale")
        labels["charges"] = (1.0 if scale is None else float(scale)) * charges
    return labels


@dataclass
class Dataset:
    """Frames of one data file with their labels and, once :meth:`build_graphs` ran, their graphs."""

    path: Path
    frames: list
    labels: list[dict[str, np.ndarray]]
    total_charge_key: str = "charge"
    graphs: list[dict[str, torch.Tensor]] | None = field(default=None, repr=False)
    sha256: str = ""

    def __len__(self) -> int:
        return len(self.frames)

    def available(self, name: str, indices=None) -> bool:
        """Whether every frame (of ``indices``) has label ``name``."""
        indices = range(len(self)) if indices is None else indices
        return all(name in self.labels[k] for k in indices)

    def require(self, names, indices, what: str) -> None:
        """Raise a clear :class:`InputError` when a frame of ``indices`` lacks one of ``names``."""
        for name in names:
            lacking = [int(k) for k in indices if name not in self.labels[k]]
            if lacking:
                shown = ", ".join(map(str, lacking[:10])) + (" …" if len(lacking) > 10 else "")
                raise InputError(
                    f"{self.path}: {len(lacking)} frame(s) of the {what} lack the {name!r} label "
                    f"needed by the loss (frames {shown}); check the data keys or set its weight to 0"
                )

    def check_species(self, species) -> None:
        known = set(species)
        for k, atoms in enumerate(self.frames):
            unknown = sorted(set(atoms.get_chemical_symbols()) - known)
            if unknown:
                raise InputError(
                    f"{self.path}: frame {k} holds element(s) {', '.join(unknown)} that the model's "
                    f"species list lacks ({', '.join(species)}); add them to model.species"
                )

    def build_graphs(self, species, cutoff: float, dtype: torch.dtype) -> None:
        """Neighbor lists and graph tensors of every frame, once (CPU tensors in ``dtype``)."""
        graphs = []
        for k, atoms in enumerate(self.frames):
            try:
                graph = atoms_to_graph(atoms, species, cutoff, dtype=dtype, charge_key=self.total_charge_key)
            except InputError as error:
                raise InputError(f"{self.path}: frame {k}: {error}") from None
            labels = self.labels[k]
            for name in LABELS:
                if name in labels:
                    graph[f"ref_{name}"] = torch.as_tensor(labels[name], dtype=torch.float64)
            graphs.append(graph)
        self.graphs = graphs

    def collate(self, indices, device="cpu") -> dict[str, torch.Tensor]:
        """One batched graph (the layout of :func:`lrcalc.atoms_to_graph`) of frames ``indices``,
        with ``ref_energy`` [B], ``ref_forces`` [N, 3], ``ref_stress`` [B, 3, 3] and ``ref_charges``
        [N] (float64), and the fragment fields (``fragment`` [N], local to each structure,
        ``fragment_charges`` [ΣF], ``num_fragments`` [B]), where every frame of the batch has them."""
        parts = [self.graphs[k] for k in indices]
        num_atoms = torch.cat([p["num_atoms"] for p in parts])
        offsets = torch.cumsum(num_atoms, 0) - num_atoms
        batch = {
            "edge_index": torch.cat([p["edge_index"] + o for p, o in zip(parts, offsets.tolist())], dim=1),
            "batch": torch.repeat_interleave(torch.arange(len(parts)), num_atoms),
            "num_atoms": num_atoms,
        }
        for key in (
            "species",
            "positions",
            "cell",
            "pbc",
            "cell_shifts",
            "total_charge",
            "fragment",
            "fragment_charges",
            "num_fragments",
            "ref_forces",
            "ref_charges",
        ):
            if all(key in p for p in parts):
                batch[key] = torch.cat([p[key] for p in parts])
        for key in ("ref_energy", "ref_stress"):
            if all(key in p for p in parts):
                batch[key] = torch.stack([p[key] for p in parts])
        if device != "cpu" and torch.device(device).type != "cpu":
            batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        return batch


#: ``atoms.info`` key that holds a total charge summed from several keys (see :func:`read_dataset`).
SUMMED_CHARGE_KEY = "lrcalc_total_charge"


def data_files(path) -> list[Path]:
    """The files of ``data.path``: one file, or every file a glob pattern (``*``, ``?``, ``[``)
    matches, in sorted order."""
    text = str(path)
    if any(c in text for c in "*?["):
        import glob

        files = sorted(Path(f) for f in glob.glob(text) if Path(f).is_file())
        if not files:
            raise InputError(f"no data file matches {text!r} (from {Path.cwd()})")
        return files
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file {text!r} not found (from {Path.cwd()})")
    return [path]


def read_dataset(path, data_config: dict) -> Dataset:
    """Read labelled data (``data_config`` holds the ``data`` section's keys).

    ``path`` is a file or a glob pattern (the frames of all matching files, in sorted file order).
    ``data_config["total_charge_key"]`` may name several ``atoms.info`` keys (a list, or
    ``"chargeA+chargeB"``): a frame's total charge is then their sum (a frame lacking one of them
    is an error). With ``data_config["fragment_key"]`` the frames get their fragments
    (:func:`assign_fragments`).

    Raises:
        InputError: a missing or unreadable file, or a file without frames.
    """
    from ase.io import read

    files = data_files(path)
    frames = []
    for file in files:
        try:
            part = read(file, index=":")
        except Exception as error:  # ase.io raises many kinds on foreign files
            raise InputError(f"{file}: cannot read it with ase.io: {error}") from None
        if not isinstance(part, list):
            part = [part]
        if not part:
            raise InputError(f"{file}: the file holds no structures")
        frames.extend(part)
    if data_config.get("pbc") is not None:  # e.g. slabs stored as 3-D periodic
        for atoms in frames:
            atoms.pbc = [bool(p) for p in data_config["pbc"]]
    keys = charge_keys(data_config.get("total_charge_key"))
    total_charge_key = keys[0]
    if len(keys) > 1:
        total_charge_key = SUMMED_CHARGE_KEY
        for k, atoms in enumerate(frames):
            lacking = [key for key in keys if key not in atoms.info]
            if lacking:
                raise InputError(f"{path}: frame {k} lacks the total-charge key(s) {lacking} in its info")
            atoms.info[SUMMED_CHARGE_KEY] = float(sum(float(atoms.info[key]) for key in keys))
    if data_config.get("fragment_key"):
        reordered = assign_fragments(frames, data_config["fragment_key"],
                                     data_config.get("fragment_charge_keys"),
                                     data_config.get("fragment_charge_order") or "as_listed", label=str(path))
        if reordered:
            warnings.warn(f"{path}: the fragment charges of {len(reordered)} frame(s) were given to the "
                          f"fragments in another order than listed, to make every fragment closed-shell "
                          f"(fragment_charge_order: closed_shell; frames {reordered[:10]}"
                          f"{' …' if len(reordered) > 10 else ''})", stacklevel=2)
    labels = [frame_labels(atoms, data_config) for atoms in frames]
    if len(files) == 1:
        digest = file_sha256(files[0])
    else:
        combined = hashlib.sha256()
        for file in files:
            combined.update(f"{file.name}:{file_sha256(file)};".encode())
        digest = combined.hexdigest()
    return Dataset(
        path=files[0] if len(files) == 1 else Path(str(path)),
        frames=frames,
        labels=labels,
        total_charge_key=total_charge_key,
        sha256=digest,
    )


# ------------------------------------------------------------------------------------------ fragments


def fragment_index(atoms, key: str, label: str) -> np.ndarray:
    """The fragment (0 … F−1) of each atom ``[N]`` from ``key``: an ``atoms.arrays`` key of per-atom
    integers, or an ``atoms.info`` key holding the index of the first atom of fragment 1 (a list: of
    fragments 1, 2, …; the dimers' ``indexB``), the atoms before it forming fragment 0."""
    n = len(atoms)
    if key in atoms.arrays:
        raw = np.asarray(atoms.arrays[key])
        if raw.shape != (n,) or not (raw.dtype.kind in "iu" or np.array_equal(raw, np.round(raw))):
            raise InputError(f"{label}: atoms.arrays[{key!r}] must hold one integer fragment index per atom")
        return raw.astype(np.int64)
    if key not in atoms.info:
        raise InputError(f"{label}: no {key!r} in the frame's per-atom arrays or info (data.fragment_key)")
    starts = np.atleast_1d(np.asarray(atoms.info[key])).reshape(-1)
    if starts.dtype.kind not in "iu" and not np.array_equal(starts, np.round(starts)):
        raise InputError(f"{label}: atoms.info[{key!r}] = {starts.tolist()} must be atom indices")
    starts = starts.astype(np.int64)
    if (np.diff(starts) <= 0).any() or starts[0] <= 0 or starts[-1] >= n:
        raise InputError(f"{label}: atoms.info[{key!r}] = {starts.tolist()} must be increasing first-atom "
                         f"indices of fragments 1, 2, … within the {n} atoms (fragment 0 starts at atom 0)")
    return np.searchsorted(starts, np.arange(n), side="right").astype(np.int64)


def _listed_charges(atoms, keys, label: str) -> np.ndarray:
    keys = [keys] if isinstance(keys, str) else list(keys)
    lacking = [key for key in keys if key not in atoms.info]
    if lacking:
        raise InputError(f"{label}: the frame lacks the fragment-charge key(s) {lacking} in its info")
    if len(keys) == 1:
        return np.atleast_1d(np.asarray(atoms.info[keys[0]], dtype=np.float64)).reshape(-1)
    return np.array([float(atoms.info[key]) for key in keys])


def _closed_shell(numbers: np.ndarray, fragment: np.ndarray, charges: np.ndarray) -> np.ndarray | None:
    """Whether each fragment has an even number of electrons (Σ Z − Q_f), or ``None`` for charges
    that are not whole numbers."""
    if not np.array_equal(charges, np.round(charges)):
        return None
    electrons = np.bincount(fragment, weights=numbers, minlength=len(charges)) - charges
    return np.round(electrons).astype(np.int64) % 2 == 0


def assign_fragments(frames, fragment_key: str, fragment_charge_keys, order: str = "as_listed",
                     label: str = "data") -> list[int]:
    """Give every frame ``atoms.arrays["fragment"]`` and ``atoms.info["fragment_charges"]`` (e), the
    fragments that :func:`lrcalc.atoms_to_graph` reads, from the keys of a data file.

    Args:
        frames: ``ase.Atoms`` frames, changed in place.
        fragment_key: see :func:`fragment_index` (the dimers of cace-lr-fit: ``"indexB"``, the index
            of the first atom of molecule B).
        fragment_charge_keys: ``atoms.info`` keys of the fragments' total charges in fragment order
            (the dimers: ``["chargeA", "chargeB"]``), or one key holding a list.
        order: ``"as_listed"``: the n-th charge belongs to fragment n; a frame where that leaves a
            fragment with an odd number of electrons while another order of the same charges would
            make every fragment closed-shell is an error (the labels likely belong to the other
            molecules). ``"closed_shell"``: the charges are given in the one order that makes every
            fragment closed-shell (an error when there is none or several); in the dimers' CP file
            (``train-id4.xyz``) ``chargeA = -1`` labels the acetate, whose atoms come second, while the
            9 atoms of molecule A are neutral acetamide (energyA matches neutral acetamide of the PA file).

    Returns:
        the indices of the frames whose charges were given in another order than listed.

    Raises:
        InputError: missing keys, a number of charges other than the number of fragments, or the
            electron-count problems described under ``order``.
    """
    if order not in FRAGMENT_CHARGE_ORDERS:
        raise ConfigError(f"data.fragment_charge_order must be one of {', '.join(FRAGMENT_CHARGE_ORDERS)}, "
                          f"got {order!r}")
    if not fragment_charge_keys:
        raise ConfigError("data.fragment_key needs data.fragment_charge_keys: the info key(s) of the "
                          "fragments' total charges")
    reordered = []
    for k, atoms in enumerate(frames):
        where = f"{label}: frame {k}"
        fragment = fragment_index(atoms, fragment_key, where)
        charges = _listed_charges(atoms, fragment_charge_keys, where)
        count = int(fragment.max()) + 1
        if len(charges) != count or np.bincount(fragment, minlength=count).min() == 0:
            raise InputError(f"{where}: {len(charges)} fragment charges {charges.tolist()} for "
                             f"fragments {sorted(set(fragment.tolist()))}: give one charge per fragment, "
                             "every fragment with at least one atom")
        even = _closed_shell(atoms.numbers, fragment, charges)
        if even is not None and not even.all():
            orders = _closed_shell_orders(atoms.numbers, fragment, charges, where)
            odd = np.flatnonzero(~even).tolist()
            if order == "as_listed" and orders:
                raise InputError(
                    f"{where}: with the charges {charges.tolist()} in the listed order, fragment(s) {odd} "
                    f"have an odd number of electrons, while the order {orders[0].tolist()} makes every fragment "
                    "closed-shell: the charge keys may label the other fragment; check the data or set "
                    "data.fragment_charge_order: closed_shell")
            if order == "closed_shell":
                if len(orders) != 1:
                    raise InputError(
                        f"{where}: {'no' if not orders else 'more than one'} order of the charges "
                        f"{charges.tolist()} makes every fragment closed-shell; give the fragment charges "
                        "in fragment order and use fragment_charge_order: as_listed")
                charges = orders[0]
                reordered.append(k)
        atoms.arrays[FRAGMENT_KEY] = fragment
        atoms.info[FRAGMENT_CHARGES_KEY] = [float(c) for c in charges]
    return reordered


def _closed_shell_orders(numbers, fragment, charges, where: str) -> list[np.ndarray]:
    """The distinct orders of ``charges`` that give every fragment an even number of electrons."""
    if len(charges) > MAX_PERMUTED_FRAGMENTS:
        raise InputError(f"{where}: {len(charges)} fragments are too many to try every order of their "
                         f"charges (at most {MAX_PERMUTED_FRAGMENTS}); give them in fragment order")
    found = {}
    for permutation in itertools.permutations(charges.tolist()):
        candidate = np.array(permutation)
        if _closed_shell(numbers, fragment, candidate).all():
            found.setdefault(tuple(permutation), candidate)
    return list(found.values())


# ---------------------------------------------------------------------------------------------- split


def random_split(num_frames: int, fractions, seed: int) -> dict[str, list[int]]:
    """Shuffle ``range(num_frames)`` with ``seed`` and cut it by ``fractions`` (train, val, test).

    Set sizes are rounded down; the remainder (frames a fraction sum below 1 leaves out) is unused.

    Raises:
        ConfigError: when train or val (or test with a positive fraction) would be empty.
    """
    order = np.random.default_rng(seed).permutation(num_frames)
    sizes = [int(np.floor(f * num_frames + 1e-9)) for f in fractions]
    split, start = {}, 0
    for name, size, fraction in zip(SPLIT_NAMES, sizes, fractions):
        if size == 0 and fraction > 0:
            raise ConfigError(
                f"data.split_fractions {list(fractions)} of {num_frames} frames leave the {name} set "
                f"empty; use more data or a larger fraction"
            )
        split[name] = sorted(int(k) for k in order[start : start + size])
        start += size
    return split


def read_split_file(path, num_frames: int) -> dict[str, list[int]]:
    """A split from a JSON file ``{"train": [...], "val": [...], "test": [...]}`` (test optional).

    Raises:
        InputError: a missing file, a malformed one, indices out of range, or a set in two places.
        ConfigError: an empty train or val set.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"split file {str(path)!r} not found (from {Path.cwd()})")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: a split file must map set names (train, val, test) to index lists")
    split = {}
    for name in SPLIT_NAMES:
        values = raw.get(name, [])
        if not isinstance(values, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise InputError(f"{path}: {name!r} must be a list of integer frame indices")
        out_of_range = [v for v in values if not 0 <= v < num_frames]
        if out_of_range:
            raise InputError(
                f"{path}: {name!r} holds indices outside the {num_frames} frames of the data: "
                f"{out_of_range[:5]}"
            )
        split[name] = [int(v) for v in values]
    for name in ("train", "val"):
        if not split[name]:
            raise ConfigError(f"{path}: the {name} set is empty")
    seen = {}
    for name in SPLIT_NAMES:
        for v in split[name]:
            if v in seen:
                raise InputError(f"{path}: frame {v} is in both {seen[v]!r} and {name!r}")
            seen[v] = name
    return split


def make_split(dataset: Dataset, data_config: dict) -> dict[str, list[int]]:
    if data_config.get("split_file"):
        return read_split_file(data_config["split_file"], len(dataset))
    return random_split(len(dataset), data_config["split_fractions"], data_config["split_seed"])


def parse_subset(spec: str | None, num_frames: int) -> list[int] | None:
    """Frame indices from ``FILE.json:SET`` (a set of a split file), ``FILE.json`` holding a plain
    list of indices, or ``None`` (every frame)."""
    if spec is None:
        return None
    file_part, name = spec.rsplit(":", 1) if ":" in spec else (spec, "")
    path = Path(file_part)
    if not path.is_file():
        raise InputError(f"index file {str(path)!r} not found")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from None
    if name:
        if not isinstance(raw, dict) or name not in raw:
            names = ", ".join(raw) if isinstance(raw, dict) else "none"
            raise InputError(f"{path}: no set {name!r} (sets: {names})")
        raw = raw[name]
    if not isinstance(raw, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in raw):
        raise InputError(
            f"{spec}: expected a list of integer frame indices (use FILE.json:SET for a split file)"
        )
    bad = [v for v in raw if not 0 <= v < num_frames]
    if bad:
        raise InputError(f"{spec}: indices outside the {num_frames} frames of the data: {bad[:5]}")
    if not raw:
        raise InputError(f"{spec}: the index set is empty")
    return [int(v) for v in raw]
