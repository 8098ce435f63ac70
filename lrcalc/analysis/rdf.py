"""Partial radial distribution functions g_ab(r) with periodic boundary conditions.

    g_ab(r) = V / (N_a N_b) · ⟨ Σ_{i∈a} Σ_{j∈b, j≠i} δ(r − r_ij) ⟩ / (4π r² dr)

averaged over frames (V the cell volume; for a = b the pair count includes both orders). An ideal
gas has g = 1. Needs 3-D periodic frames.
"""

from __future__ import annotations

import numpy as np

from ..neighbors import neighbor_list
from ._plot import figure, save


def partial_rdf(frames, a: str, b: str, r_max: float = 6.0, bins: int = 120):
    """Return ``(r, g)``: bin centers (Å) and g_ab(r), averaged over ``frames``."""
    frames = [frames] if hasattr(frames, "positions") else list(frames)
    edges = np.linspace(0.0, r_max, bins + 1)
    histogram = np.zeros(bins)
    normalisation = 0.0
    for atoms in frames:
        if not atoms.pbc.all():
            raise ValueError("partial_rdf needs 3-D periodic frames (pbc=True with a cell)")
        symbols = np.array(atoms.get_chemical_symbols())
        in_a, in_b = symbols == a, symbols == b
        if not in_a.any() or not in_b.any():
            raise ValueError(f"no {a} or no {b} atoms in the frame")
        i, j, shifts = neighbor_list(atoms.positions, atoms.cell[:], atoms.pbc, r_max)
        keep = in_a[i] & in_b[j]
        distances = np.linalg.norm(atoms.positions[j[keep]] - atoms.positions[i[keep]] + shifts[keep] @ atoms.cell[:], axis=1)
        histogram += np.histogram(distances, bins=edges)[0]
        normalisation += in_a.sum() * in_b.sum() / atoms.cell.volume
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return 0.5 * (edges[1:] + edges[:-1]), histogram / (normalisation * shell)


def plot_rdf(frames, pairs, path="rdf.png", r_max=6.0, bins=120) -> str:
    """Plot g(r) of each ``(a, b)`` in ``pairs`` to ``path``."""
    fig, ax = figure()
    for a, b in pairs:
        r, g = partial_rdf(frames, a, b, r_max, bins)
        ax.plot(r, g, label=f"{a}–{b}")
    ax.axhline(1.0, color="0.6", lw=0.8, ls="--")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.legend()
    return save(fig, path)
