"""What a model was trained on, and whether a structure lies within it.

A model file records its training domain (metadata key ``training_domain``, written by
``lrcalc train``): how the total charge was read from ``atoms.info`` and its range, the periodicity
of the frames (after any ``pbc`` override) and their compositions. The calculator reads it to

- take the total charge from the recorded key(s) when ``atoms.info["charge"]`` is absent (the Cu-BTA
  data store it as ``total_charge``, the dimers as ``chargeA`` + ``chargeB``), and say so;
- warn, once per calculator and kind, when a structure leaves the domain:
  a total charge the model cannot use (no charge input and no long range) or never saw, a
  periodicity no training frame had, or a composition outside the span of the training compositions.

Why the span: the per-species energy shifts μ_Z are fitted by least squares to E ≈ Σ_Z n_Z μ_Z. When
every training frame has the same composition (the Cu-BTA sets), only that combination of shifts is
determined, and the energy of another composition (a lone H atom, a Cu₂ dimer, the molecule without
the slab) contains an arbitrary part. A composition c is safe when it lies in the span of the
training compositions; multiples and combinations (a 7×7 repeat of the training cell) are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

CHARGE_KEY = "charge"
"""ASE's key of the total charge (e) in ``atoms.info``; it always wins over recorded keys."""


class TrainingDomainWarning(UserWarning):
    """A structure outside what the model was trained on: the result may be meaningless."""


def charge_keys(total_charge_key) -> list[str]:
    """A recorded ``total_charge_key`` as a list of ``atoms.info`` keys to add up (a key, ``"a+b"``
    or a list)."""
    if isinstance(total_charge_key, (list, tuple)):
        return [str(k) for k in total_charge_key]
    return [k.strip() for k in str(total_charge_key or CHARGE_KEY).split("+")]


def composition(symbols, species: list[str]) -> np.ndarray:
    """Atoms of each species [S] (ints)."""
    index = {s: k for k, s in enumerate(species)}
    counts = np.zeros(len(species), dtype=np.int64)
    for symbol in symbols:
        counts[index[symbol]] += 1
    return counts


MAX_COMPOSITIONS = 200
"""At most this many distinct training compositions are recorded (their span is what matters)."""


@dataclass
class TrainingDomain:
    """The training domain of a model (see the module docstring).

    Attributes:
        species: the model's species (the order of the composition vectors).
        charge_keys: the ``atoms.info`` key(s) the total charge was read from (summed).
        total_charge_range: (lowest, highest) total charge of the training frames, e.
        pbc: the distinct periodicities of the training frames (after the override).
        pbc_override: the ``data.pbc`` override of the training config, or ``None``.
        compositions: distinct training compositions (atoms per species), a basis of their span.
    """

    species: list[str]
    charge_keys: list[str] = field(default_factory=lambda: [CHARGE_KEY])
    total_charge_range: tuple[float, float] = (0.0, 0.0)
    pbc: list[tuple[bool, bool, bool]] = field(default_factory=list)
    pbc_override: list[bool] | None = None
    compositions: list[list[int]] = field(default_factory=list)

    # -- recording ---------------------------------------------------------------------------------
    @classmethod
    def from_frames(cls, frames, species, total_charge_key, pbc_override=None) -> "TrainingDomain":
        """The domain of training frames (``pbc`` already overridden, as the model saw them)."""
        keys = charge_keys(total_charge_key)
        charges = [sum(float(atoms.info.get(key, 0.0)) for key in keys) for atoms in frames]
        pbcs = sorted({tuple(bool(p) for p in atoms.pbc) for atoms in frames})
        compositions = np.unique(np.array([composition(a.get_chemical_symbols(), species) for a in frames]),
                                 axis=0)
        basis = _span_basis(compositions)
        return cls(list(species), keys, (float(min(charges)), float(max(charges))), pbcs,
                   None if pbc_override is None else [bool(p) for p in pbc_override],
                   [list(map(int, c)) for c in basis])

    def to_metadata(self) -> dict:
        return {"species": self.species, "charge_keys": self.charge_keys,
                "total_charge_range": list(self.total_charge_range),
                "pbc": [list(p) for p in self.pbc], "pbc_override": self.pbc_override,
                "compositions": self.compositions}

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> "TrainingDomain | None":
        """The recorded domain of a model file's metadata, or ``None`` (an untrained or older model)."""
        recorded = (metadata or {}).get("training_domain")
        if not recorded:
            return None
        return cls(list(recorded["species"]), list(recorded["charge_keys"]),
                   tuple(recorded["total_charge_range"]), [tuple(p) for p in recorded["pbc"]],
                   recorded.get("pbc_override"), [list(c) for c in recorded["compositions"]])

    # -- reading -----------------------------------------------------------------------------------
    def total_charge(self, info: dict) -> tuple[float, str | None]:
        """The total charge (e) of a structure and the recorded key(s) it came from (``None`` when it
        came from ``info["charge"]`` or is the default 0)."""
        if CHARGE_KEY in info:
            return float(info[CHARGE_KEY]), None
        if self.charge_keys != [CHARGE_KEY] and all(key in info for key in self.charge_keys):
            return float(sum(float(info[key]) for key in self.charge_keys)), "+".join(self.charge_keys)
        return 0.0, None

    def problems(self, atoms, total_charge: float, uses_total_charge: bool) -> dict[str, str]:
        """Kind → message for every way ``atoms`` leaves the domain (empty: inside it)."""
        found = {}
        low, high = self.total_charge_range
        if total_charge != 0 and not uses_total_charge:
            found["charge"] = (f"total charge {total_charge:g} e given, but this model has no charge input "
                               "and no long range: it computes the neutral energy")
        elif not low - 1e-9 <= total_charge <= high + 1e-9:
            found["charge"] = (f"total charge {total_charge:g} e lies outside the range the model was "
                               f"trained on ({low:g} to {high:g} e)")
        pbc = tuple(bool(p) for p in atoms.pbc)
        if self.pbc and pbc not in self.pbc:
            override = (f"; its frames were read with pbc={tuple(self.pbc_override)}"
                        if self.pbc_override is not None else "")
            found["pbc"] = (f"pbc={pbc}, but the model was trained on pbc={', '.join(map(str, self.pbc))}"
                            f"{override}: set atoms.pbc to what the structure is (a slab stored as 3-D "
                            "periodic gets the wrong boundary conditions)")
        if self.compositions and set(atoms.get_chemical_symbols()) <= set(self.species):
            c = composition(atoms.get_chemical_symbols(), self.species)
            if not _in_span(c, np.array(self.compositions)):
                found["composition"] = (
                    "its composition is not a combination of the training compositions, so the "
                    "per-species energy shifts do not determine its total energy: energies are "
                    "meaningless (differences between structures of the same composition are fine)")
        return found


def _span_basis(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` that span the same space (greedy, in order); at most MAX_COMPOSITIONS."""
    basis = []
    for v in vectors:
        candidate = np.array(basis + [v], dtype=float)
        if np.linalg.matrix_rank(candidate) > len(basis):
            basis.append(v)
        if len(basis) >= MAX_COMPOSITIONS:
            break
    return np.array(basis, dtype=np.int64).reshape(-1, vectors.shape[1])


def _in_span(c: np.ndarray, basis: np.ndarray) -> bool:
    if not len(basis):
        return True
    coefficients, *_ = np.linalg.lstsq(basis.T.astype(float), c.astype(float), rcond=None)
    return bool(np.abs(basis.T @ coefficients - c).max() < 1e-6 * max(1.0, np.abs(c).max()))


class DomainWarnings:
    """Warns once per kind (charge, pbc, composition, recorded charge key) for one calculator."""

    def __init__(self):
        self.issued: set[str] = set()

    def warn(self, kind: str, message: str) -> None:
        if kind not in self.issued:
            self.issued.add(kind)
            warnings.warn(message, TrainingDomainWarning, stacklevel=4)
