"""Mean squared displacement and diffusion coefficients.

    MSD(t) = ⟨ |r_i(t₀ + t) − r_i(t₀)|² ⟩_{i, t₀},        D = lim MSD(t) / (2 d t)

Positions are unwrapped (a jump of more than half a cell between consecutive frames is taken as a
crossing of the periodic boundary), so wrapped and unwrapped trajectories give the same MSD.
"""

from __future__ import annotations

import numpy as np

from ._plot import figure, save


def unwrapped_positions(frames) -> np.ndarray:
    """[T, N, 3] positions (Å) made continuous across periodic boundaries."""
    positions = np.array([f.positions for f in frames])
    if not frames[0].pbc.any():
        return positions
    cell = frames[0].cell[:]
    inverse = np.linalg.pinv(cell)
    steps = np.diff(positions, axis=0) @ inverse  # fractional displacements
    periodic = np.asarray(frames[0].pbc, dtype=bool)
    steps[..., periodic] -= np.round(steps[..., periodic])
    return np.concatenate([positions[:1], positions[:1] + np.cumsum(steps @ cell, axis=0)])


def mean_squared_displacement(frames, timestep_fs: float, indices=None, max_lag: int | None = None):
    """Return ``(t_fs, msd_A2)`` averaged over atoms (``indices``, default all) and time origins.

    ``timestep_fs`` is the time between consecutive frames.
    """
    frames = list(frames)
    positions = unwrapped_positions(frames)
    if indices is not None:
        positions = positions[:, list(indices)]
    lags = np.arange(1, (max_lag or len(frames) - 1) + 1)
    msd = np.array([((positions[lag:] - positions[:-lag]) ** 2).sum(axis=-1).mean() for lag in lags])
    return np.concatenate([[0.0], lags * timestep_fs]), np.concatenate([[0.0], msd])


def diffusion_coefficient(t_fs, msd_A2, dimensions: int = 3, fit_from: float = 0.2) -> float:
    """D in Å²/fs from a straight-line fit of MSD(t) over its last ``1 − fit_from`` part
    (multiply by 0.1 for cm²/s)."""
    t_fs, msd_A2 = np.asarray(t_fs), np.asarray(msd_A2)
    start = int(fit_from * len(t_fs))
    slope = np.polyfit(t_fs[start:], msd_A2[start:], 1)[0]
    return float(slope / (2 * dimensions))


def plot_msd(frames, timestep_fs, groups: dict, path="msd.png") -> str:
    """Plot the MSD of each named group of atom indices (e.g. ``{"Cu": [...], "BTA": [...]}``)."""
    fig, ax = figure()
    for name, indices in groups.items():
        t, msd = mean_squared_displacement(frames, timestep_fs, indices)
        ax.plot(t / 1000, msd, label=f"{name}: D = {diffusion_coefficient(t, msd) * 0.1:.2e} cm²/s")
    ax.set_xlabel("t (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.legend()
    return save(fig, path)
