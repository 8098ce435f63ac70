"""Statistics of the training set that a model is built with, computed once before the first epoch.

=======================  ========  ===============================================================
statistic                unit      from
=======================  ========  ===============================================================
``energy_shifts``        eV        per species μ_s, least squares E_b ≈ Σ_s n_bs μ_s
``energy_scale``         eV        the force RMS, else the spread of the shifted energy per atom
``avg_num_neighbors``    —         mean number of neighbors within the cutoff per atom
=======================  ========  ===============================================================

The model's per-atom energy is ``energy_scale · network + energy_shift[species]``: the network starts
near unit-sized outputs and the shifts absorb the absolute offset of the DFT energies (~10⁵ eV).
``avg_num_neighbors`` normalises the message sums of the interaction layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .data import Dataset


def energy_shifts(dataset: Dataset, indices, species) -> np.ndarray:
    """Per-species energy shifts μ_s (eV) by least squares: E_b ≈ Σ_s n_bs μ_s.

    Solved as μ = ē + argmin ‖N x − (E − ē·n)‖ (minimum norm), with ē the mean energy per atom: a
    species whose count is not determined by the data (e.g. every frame has the same composition)
    gets ē rather than an arbitrary split of the total.
    """
    index_of = {s: k for k, s in enumerate(species)}
    counts = np.zeros((len(indices), len(species)))
    energies = np.zeros(len(indices))
    for row, k in enumerate(indices):
        for symbol in dataset.frames[k].get_chemical_symbols():
            counts[row, index_of[symbol]] += 1
        energies[row] = dataset.labels[k]["energy"]
    per_atom = float(np.sum(energies) / np.sum(counts))
    residual = energies - per_atom * counts.sum(axis=1)
    solution, *_ = np.linalg.lstsq(counts, residual, rcond=None)
    shifts = per_atom + solution
    present = counts.sum(axis=0) > 0
    shifts[~present] = per_atom
    return shifts


def average_num_neighbors(dataset: Dataset, indices) -> float:
    """Mean number of neighbors within the cutoff per atom (needs :meth:`Dataset.build_graphs`)."""
    edges = sum(int(dataset.graphs[k]["edge_index"].shape[1]) for k in indices)
    atoms = sum(len(dataset.frames[k]) for k in indices)
    return max(edges / atoms, 1e-3)


def force_rms(dataset: Dataset, indices) -> float | None:
    """Root mean square of the force components (eV/Å), or ``None`` without force labels."""
    if not dataset.available("forces", indices):
        return None
    squares = np.concatenate([dataset.labels[k]["forces"].reshape(-1) ** 2 for k in indices])
    return float(np.sqrt(np.mean(squares)))


def energy_scale(dataset: Dataset, indices, shifts, species) -> float:
    """The scale of the model's per-atom output: the force RMS when forces are known, otherwise the
    standard deviation of the energy per atom left after the shifts (eV)."""
    rms = force_rms(dataset, indices)
    if rms is not None and rms > 0:
        return rms
    index_of = {s: k for k, s in enumerate(species)}
    residuals = []
    for k in indices:
        numbers = [index_of[s] for s in dataset.frames[k].get_chemical_symbols()]
        residuals.append((dataset.labels[k]["energy"] - shifts[numbers].sum()) / len(numbers))
    std = float(np.std(residuals))
    return std if std > 0 else 1.0


def training_statistics(dataset: Dataset, indices, species) -> dict:
    """``{"avg_num_neighbors", "energy_shifts": {symbol: eV}, "energy_scale": eV}`` of frames
    ``indices`` (plain numbers: they go into checkpoints and model metadata). Without energy labels
    the shifts are 0 and the scale 1 eV."""
    if dataset.available("energy", indices):
        shifts = energy_shifts(dataset, indices, species)
        scale = energy_scale(dataset, indices, shifts, species)
    else:
        shifts, scale = np.zeros(len(species)), 1.0
    return {
        "avg_num_neighbors": average_num_neighbors(dataset, indices),
        "energy_shifts": {s: float(v) for s, v in zip(species, shifts)},
        "energy_scale": float(scale),
    }


@torch.no_grad()
def set_energy_shift_and_scale(model, statistics: dict) -> None:
    """Copy the statistics' energy shifts and scale into ``model`` (in place)."""
    shifts = statistics["energy_shifts"]
    model.energy_shift.copy_(torch.tensor([shifts[s] for s in model.species], dtype=model.dtype))
    model.energy_scale.fill_(statistics["energy_scale"])
