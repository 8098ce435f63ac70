"""Per-atom charges along a trajectory (from models with charges, stored in each frame)."""

from __future__ import annotations

import numpy as np

from ._plot import figure, save


def _charges(atoms) -> np.ndarray:
    if atoms.calc is not None and "charges" in atoms.calc.results:
        return np.asarray(atoms.calc.results["charges"])
    if "initial_charges" in atoms.arrays and np.any(atoms.get_initial_charges()):
        return atoms.get_initial_charges()
    raise ValueError("a frame has no charges: run MD with a model that predicts them (long_range='qeq')")


def charge_time_series(frames) -> np.ndarray:
    """[T, N] charges (e) of every atom in every frame."""
    return np.array([_charges(f) for f in frames])


def charge_statistics(frames) -> dict:
    """Per element: mean, standard deviation, min and max of the atomic charges (e) over all frames."""
    frames = list(frames)
    charges = charge_time_series(frames)
    symbols = np.array(frames[0].get_chemical_symbols())
    stats = {}
    for element in dict.fromkeys(symbols):
        values = charges[:, symbols == element]
        stats[element] = {"mean": float(values.mean()), "std": float(values.std()),
                          "min": float(values.min()), "max": float(values.max()), "atoms": int((symbols == element).sum())}
    return stats


def plot_charges(frames, timestep_fs: float, path="charges.png") -> str:
    """Mean charge of each element against time, with ±1 standard deviation over its atoms."""
    frames = list(frames)
    charges = charge_time_series(frames)
    symbols = np.array(frames[0].get_chemical_symbols())
    t_ps = np.arange(len(frames)) * timestep_fs / 1000
    fig, ax = figure()
    for element in dict.fromkeys(symbols):
        values = charges[:, symbols == element]
        mean, std = values.mean(axis=1), values.std(axis=1)
        (line,) = ax.plot(t_ps, mean, label=element)
        ax.fill_between(t_ps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("t (ps)")
    ax.set_ylabel("charge (e)")
    ax.legend(ncol=2)
    return save(fig, path)
