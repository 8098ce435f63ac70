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


def read_md_log(path) -> dict[str, np.ndarray]:
    """Columns of an :func:`lrcalc.md.run` CSV log as float arrays (empty cells → NaN)."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path}: the MD log has no rows")
    return {key: np.array([float(r[key]) if r[key] != "" else np.nan for r in rows]) for key in rows[0]}


def plot_md_log(path, output="md.png", num_atoms: int | None = None,
                target_temperature_K: float | None = None) -> str:
    """Temperature and energies of an MD log against time (two panels); a dashed line marks the
    thermostat's ``target_temperature_K`` when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_md_log(path)
    t_ps = log["time_fs"] / 1000
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 5.0), sharex=True, layout="constrained")
    top.plot(t_ps, log["temperature_K"], color="C3", label="instantaneous")
    if target_temperature_K is not None:
        top.axhline(target_temperature_K, color="k", linestyle="--", linewidth=1,
                    label=f"target {target_temperature_K:g} K")
        top.legend(loc="lower right")
    top.set_ylabel("T (K)")
    per = num_atoms or 1
    unit = "eV/atom" if num_atoms else "eV"
    bottom.plot(t_ps, (log["etot_eV"] - log["etot_eV"][0]) / per, label="total")
    bottom.plot(t_ps, (log["epot_eV"] - log["epot_eV"][0]) / per, label="potential", alpha=0.7)
    bottom.set_ylabel(f"E − E(0) ({unit})")
    bottom.set_xlabel("t (ps)")
    bottom.legend()
    return save(fig, output)
