"""Energy conservation of NVE runs."""

from __future__ import annotations

import numpy as np

from ._plot import figure, save


def energy_drift(t_fs, total_energy_eV, num_atoms: int) -> float:
    """Drift of the total energy in meV/atom/ps: slope of a straight-line fit."""
    slope_eV_per_fs = np.polyfit(np.asarray(t_fs, dtype=float), np.asarray(total_energy_eV, dtype=float), 1)[0]
    return float(slope_eV_per_fs * 1000.0 * 1000.0 / num_atoms)


def plot_energy(t_fs, potential_eV, total_energy_eV, num_atoms, path="energy.png") -> str:
    """Potential and total energy per atom against time, with the fitted drift in the title."""
    t_fs = np.asarray(t_fs, dtype=float)
    fig, ax = figure()
    ax.plot(t_fs / 1000, (np.asarray(total_energy_eV) - total_energy_eV[0]) / num_atoms * 1000, label="total")
    ax.plot(t_fs / 1000, (np.asarray(potential_eV) - potential_eV[0]) / num_atoms * 1000, label="potential", alpha=0.7)
    ax.set_xlabel("t (ps)")
    ax.set_ylabel("E − E(0) (meV/atom)")
    ax.set_title(f"drift {energy_drift(t_fs, total_energy_eV, num_atoms):+.3f} meV/atom/ps")
    ax.legend()
    return save(fig, path)
