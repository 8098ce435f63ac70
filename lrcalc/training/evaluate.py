"""``evaluate(model, data)``: errors of a model on labelled data, as a table and parity plots.

Reported per label that both the data (every selected frame) and the model's outputs hold: RMSE and
MAE of the energy per atom (meV/atom), force components (meV/Å), stress components (meV/Å³) and
atomic charges (me = 10⁻³ e).

The data keys (``energy_key``, ``charges_key``, ``total_charge_key``, ``pbc``…) default to those the model
was trained with (its metadata), else to the defaults of the training config's ``data`` section.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..model_file import load_model
from ..nn.model import AtomisticModel
from .config import DEFAULTS
from .data import parse_subset, read_dataset
from .loss import TERMS, UNITS
from .metrics import error_sums

DATA_KEYS = ("energy_key", "forces_key", "stress_key", "virial_key", "charges_key", "charges_scale", "total_charge_key", "pbc",
             "fragment_key", "fragment_charge_keys", "fragment_charge_order")


def data_keys_for(model: AtomisticModel, overrides: dict | None = None) -> dict:
    """Label keys: the training run's (from the model's metadata), else the defaults; then ``overrides``
    (entries that are ``None`` are ignored)."""
    return {key: value for key, (value, _) in data_keys_with_origin(model, overrides).items()}


def data_keys_with_origin(model: AtomisticModel, overrides: dict | None = None) -> dict:
    """Each data key → (value, where it came from: ``"default"``, ``"as the model was trained"`` or
    ``"given"``), so that what is applied can be said."""
    keys = {key: (DEFAULTS["data"][key], "default") for key in DATA_KEYS}
    trained = (getattr(model, "metadata", None) or {}).get("training", {}).get("config", {}).get("data", {})
    keys.update({key: (trained[key], "as the model was trained")
                 for key in DATA_KEYS if key in trained and trained[key] != DEFAULTS["data"][key]})
    keys.update({key: (value, "given") for key, value in (overrides or {}).items() if value is not None})
    return keys


def evaluate(
    model: AtomisticModel | str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    indices: list[int] | None = None,
    subset: str | None = None,
    keys: dict | None = None,
    batch_size: int = 16,
    device: str = "cpu",
    dtype: str | None = None,
    plot_dir: str | os.PathLike | None = None,
    predictions_path: str | os.PathLike | None = None,
) -> dict:
    """Errors of ``model`` on the frames of ``data_path``.

    Args:
        model: a model, a model file or a shipped model's name.
        indices: frames to use (default: all), or ``subset``: ``"split.json:test"`` (a set of a split
            file) or ``"indices.json"`` (a plain list).
        keys: label keys overriding the model's training keys (see :data:`DATA_KEYS`).
        dtype: ``"float32"`` or ``"float64"`` for the network (default: the model's); a model object
            given is copied, never changed.
        plot_dir: write ``parity_<label>.png`` there.
        predictions_path: write the selected frames with the model's predictions as their calculator
            results (``energy``, ``forces``, ``stress``, ``charges`` as the model has them) and the
            reference labels as ``ref_energy``, ``ref_stress`` (info) and ``ref_forces``,
            ``ref_charges`` (arrays), in extxyz.

    Returns:
        ``{"num_frames", "num_atoms", "metrics": {label: {"rmse", "mae"}} (ASE units), "plots"}``.
    """
    if not isinstance(model, AtomisticModel):
        model = load_model(model, device=device)
    elif dtype is not None or torch.device(device) != model.device:
        model = copy.deepcopy(model)  # the caller's model stays as it is
    if dtype is not None:
        model = model.to({"float32": torch.float32, "float64": torch.float64}[dtype])
    model = model.to(device)
    config = copy.deepcopy(DEFAULTS["data"])
    applied = data_keys_with_origin(model, keys)
    config.update({key: value for key, (value, _) in applied.items()})
    dataset = read_dataset(data_path, config)
    if indices is None:
        indices = parse_subset(subset, len(dataset))
    if indices is None:
        indices = list(range(len(dataset)))
    bad = [k for k in indices if not 0 <= k < len(dataset)]
    if bad:
        raise InputError(f"indices outside the {len(dataset)} frames of {data_path}: {bad[:5]}")
    dataset.check_species(model.species)
    sub = type(dataset)(
        path=dataset.path,
        frames=[dataset.frames[k] for k in indices],  # selected frames
        labels=[dataset.labels[k] for k in indices],
        total_charge_key=dataset.total_charge_key,
        sha256=dataset.sha256,
    )
    sub.build_graphs(model.species, model.cutoff, torch.float64)  # geometry in float64
    local = list(range(len(sub)))
    names = [name for name in TERMS if sub.available(name) and name in model.outputs]
    stress = "stress" in names
    predictions = {} if plot_dir is not None else None
    sums = error_sums(model, sub, local, batch_size, device, names, stress, None, predictions)
    result = {
        "num_frames": len(sub),
        "num_atoms": int(sum(len(a) for a in sub.frames)),
        "data_keys": {key: [value, origin] for key, (value, origin) in applied.items()},
        "metrics": sums.metrics(),
        "plots": [],
    }
    if predictions_path is not None:
        result["predictions"] = str(write_predictions(model, sub, predictions_path))
    if plot_dir is not None:
        from .plots import plot_parity

        result["plots"] = [str(p) for p in plot_parity(predictions, plot_dir)]
    return result


def format_table(result: dict) -> str:
    """The metrics as a text table in meV units."""
    lines = [
        f"{result['num_frames']} frames, {result['num_atoms']} atoms",
        f"{'quantity':<10}{'RMSE':>12}{'MAE':>12}  unit",
    ]
    for name in TERMS:
        if name in result["metrics"]:
            m = result["metrics"][name]
            lines.append(f"{name:<10}{1000 * m['rmse']:>12.4f}{1000 * m['mae']:>12.4f}  {UNITS[name]}")
    if not result["metrics"]:
        lines.append("(no label of the data is predicted by the model)")
    return "\n".join(lines)


def write_predictions(model: AtomisticModel, dataset, path) -> Path:
    """The frames of ``dataset`` with the model's predictions and their reference labels (extxyz)."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from ..calculator import LRCalculator

    calc = LRCalculator(model, device=str(model.device))
    frames = []
    for atoms, labels in zip(dataset.frames, dataset.labels):
        frame = atoms.copy()
        frame.info["charge"] = float(atoms.info.get(dataset.total_charge_key, 0.0))
        frame.calc = calc
        results = {"energy": frame.get_potential_energy(), "forces": frame.get_forces()}
        if frame.pbc.any() and abs(frame.cell.volume) > 1e-12:
            results["stress"] = frame.get_stress()
        if "charges" in model.outputs:
            results["charges"] = frame.get_charges()
        frame.calc = None
        for name, value in labels.items():
            if np.ndim(value) and len(value) == len(frame) and name in ("forces", "charges"):
                frame.arrays[f"ref_{name}"] = np.asarray(value)
            else:
                frame.info[f"ref_{name}"] = np.asarray(value).reshape(-1) if np.ndim(value) else float(value)
        frame.calc = SinglePointCalculator(frame, **results)
        frames.append(frame)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, frames, format="extxyz")
    return path
