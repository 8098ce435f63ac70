"""Small test systems shared by the electrostatics tests (float64 throughout)."""

import math
from pathlib import Path

import torch

DTYPE = torch.float64
KE = 14.399645
REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def rock_salt(a=5.64, cubic=True):
    """Rock-salt positions, cell and ±1 charges; nearest-neighbour distance a/2."""
    if cubic:
        base = torch.tensor([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], dtype=DTYPE)
        pos = torch.cat([base, base + torch.tensor([0.5, 0.0, 0.0], dtype=DTYPE)]) * a
        cell = torch.eye(3, dtype=DTYPE) * a
        q = torch.tensor([1.0] * 4 + [-1.0] * 4, dtype=DTYPE)
    else:
        cell = torch.tensor([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], dtype=DTYPE) * a
        pos = torch.tensor([[0, 0, 0], [0.5, 0.5, 0.5]], dtype=DTYPE) * a
        q = torch.tensor([1.0, -1.0], dtype=DTYPE)
    return pos, cell, q, a / 2


def cesium_chloride(a=4.0, triclinic=False):
    """CsCl positions, cell and ±1 charges; nearest-neighbour distance a√3/2.

    ``triclinic=True`` describes the same crystal with the sheared primitive cell
    (a, 0, 0), (a, a, 0), (0, a, a).
    """
    cell = torch.eye(3, dtype=DTYPE) * a
    if triclinic:
        cell = torch.tensor([[1.0, 0, 0], [1.0, 1.0, 0], [0, 1.0, 1.0]], dtype=DTYPE) * a
    pos = torch.tensor([[0, 0, 0], [0.5, 0.5, 0.5]], dtype=DTYPE) * a
    q = torch.tensor([1.0, -1.0], dtype=DTYPE)
    return pos, cell, q, a * math.sqrt(3) / 2


def random_ions(n=24, density=0.05, seed=0, triclinic=True):
    """Neutral random ±1 ions in a (triclinic) box, kept at least 1.5 Å apart."""
    gen = torch.Generator().manual_seed(seed)
    length = (n / density) ** (1 / 3)
    cell = torch.eye(3, dtype=DTYPE) * length
    if triclinic:
        cell = cell + torch.tensor([[0, 0, 0], [0.2, -0.05, 0], [0.1, 0.15, -0.1]], dtype=DTYPE) * length
    pos = []
    while len(pos) < n:
        trial = torch.rand(3, generator=gen, dtype=DTYPE) @ cell
        if all(_min_image(trial - p, cell) > 1.5 for p in pos):
            pos.append(trial)
    q = torch.tensor([1.0, -1.0] * (n // 2), dtype=DTYPE)
    return torch.stack(pos), cell, q


def _min_image(d, cell):
    frac = d @ torch.linalg.inv(cell)
    frac = frac - torch.round(frac)
    return float(torch.linalg.norm(frac @ cell))


def molecule(seed=1, n=6):
    """A small neutral non-periodic cluster about the origin (Å, e)."""
    gen = torch.Generator().manual_seed(seed)
    pos = (torch.rand(n, 3, generator=gen, dtype=DTYPE) - 0.5) * 4.0
    q = torch.rand(n, generator=gen, dtype=DTYPE) - 0.5
    q = q - q.mean()
    return pos, q


def relative_rms(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


QEQ_GEOMETRIES = {
    "molecule": {"pbc": (False, False, False), "method": "direct"},
    "ewald": {"pbc": (True, True, True), "method": "ewald"},
    "p3m": {"pbc": (True, True, True), "method": "p3m"},
    "slab": {"pbc": (True, True, False), "method": "ewald"},
}
"""Geometry kinds of the Qeq tests: periodicity and Coulomb method."""


def qeq_system(kind, n=16, seed=0):
    """A Qeq problem of ``n`` atoms of a geometry kind of :data:`QEQ_GEOMETRIES`: positions (Å), cell
    (or ``None``), χ (eV/e), hardness in 4–6 eV/e² and widths in 0.8–1.2 Å, float64."""
    if kind == "molecule":
        pos, _ = molecule(seed=seed, n=n)
        cell = None
    else:
        pos, cell, _ = random_ions(n, density=0.05, seed=seed)
    gen = torch.Generator().manual_seed(seed + 10)
    chi = torch.randn(len(pos), generator=gen, dtype=DTYPE)
    hardness = 4.0 + 2.0 * torch.rand(len(pos), generator=gen, dtype=DTYPE)
    sigma = 0.8 + 0.4 * torch.rand(len(pos), generator=gen, dtype=DTYPE)
    return pos, cell, chi, hardness, sigma
