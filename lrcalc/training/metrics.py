"""Error metrics of a model on a set of frames, the per-epoch record of a run, and ``metrics.jsonl``.

``metrics.jsonl`` holds one JSON object per epoch, in this order: ``epoch``, ``lr`` (at the start of
the epoch), ``train_loss`` and ``train_<label>_mse`` (means over the epoch's batches, for the labels
with a positive weight), ``val_loss``, ``val_<label>_rmse`` and ``val_<label>_mae`` (EMA weights;
ASE units: eV/atom, eV/Å, eV/Å³, e), ``time_s``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from . import distributed
from .checkpoint import atomic_write_text
from .data import Dataset
from .loss import TERMS, UNITS, ErrorSums, predict, residuals


def error_sums(
    model,
    dataset: Dataset,
    indices,
    batch_size: int,
    device,
    names,
    stress: bool,
    context: distributed.Context | None = None,
    predictions: dict | None = None,
) -> ErrorSums:
    """Errors of ``model`` on frames ``indices``; in a distributed run each process takes every
    ``world_size``-th batch and the sums are added over processes.

    With ``predictions`` (a dict), predicted and reference values are appended to it per label.
    """
    sums = ErrorSums()
    batches = [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)]
    rank, world = (context.rank, context.world_size) if context is not None else (0, 1)
    for batch_indices in batches[rank::world]:
        batch = dataset.collate(batch_indices, device)
        out = predict(model, batch, stress=stress, create_graph=False)
        res = residuals(out, batch, names)
        sums.add(res)
        if predictions is not None:
            _collect(predictions, out, batch, res)
    if context is not None and context.distributed:
        vector = sums.vector().to(context.device)
        distributed.all_reduce_sum(context, vector)
        sums.from_vector(vector.cpu())
    return sums


def _collect(predictions: dict, out: dict, batch: dict, res: dict) -> None:
    for name in res:
        if name == "energy":
            atoms = batch["num_atoms"].double()
            predicted, reference = out["energy64"] / atoms, batch["ref_energy"] / atoms
        else:
            predicted, reference = out[name].double(), batch[f"ref_{name}"]
        entry = predictions.setdefault(name, {"predicted": [], "reference": []})
        entry["predicted"].append(predicted.detach().cpu().reshape(-1).numpy())
        entry["reference"].append(reference.detach().cpu().reshape(-1).numpy())


def format_metrics(metrics: dict) -> str:
    """``"E 1.2 meV/atom, F 34 meV/Å"``: the RMSEs of ``metrics`` in meV units, for log lines."""
    parts = []
    for name, unit in UNITS.items():
        if name in metrics:
            parts.append(f"{name[0].upper()} {1000 * metrics[name]['rmse']:.3g} {unit}")
    return ", ".join(parts)


# ------------------------------------------------------------------------------------ one epoch


def loss_parts(loss: torch.Tensor | None, parts: dict) -> torch.Tensor:
    """One batch's loss and the unweighted mean squared error of each term (0 where absent; all 0
    for a process without frames in the batch), as a float64 vector ``[loss, *TERMS]`` that sums
    over processes."""
    vector = torch.zeros(len(TERMS) + 1, dtype=torch.float64)
    if loss is not None:
        vector[0] = float(loss.detach())
    for k, name in enumerate(TERMS):
        if name in parts:
            vector[k + 1] = float(parts[name])
    return vector


def train_record(batch_parts: list[torch.Tensor], weights: dict) -> dict:
    """``train_loss`` and ``train_<label>_mse`` (labels with a positive weight): the means over an
    epoch's batches of their :func:`loss_parts`."""
    totals = torch.zeros(len(TERMS) + 1, dtype=torch.float64)
    for parts in batch_parts:
        totals += parts
    means = (totals / max(len(batch_parts), 1)).tolist()
    record = {"train_loss": means[0]}
    for k, name in enumerate(TERMS):
        if weights[name] > 0:
            record[f"train_{name}_mse"] = means[k + 1]
    return record


def validation_record(loss: float, metrics: dict) -> dict:
    """``val_loss``, ``val_<label>_rmse`` and ``val_<label>_mae``."""
    record = {"val_loss": loss}
    for name, values in metrics.items():
        record[f"val_{name}_rmse"] = values["rmse"]
        record[f"val_{name}_mae"] = values["mae"]
    return record


class MetricsLog:
    """``metrics.jsonl`` of a run directory: one line per epoch, appended as epochs end."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def start(self, resumed_after: int | None) -> None:
        """A new run clears the file; a run resumed after epoch ``resumed_after`` drops the lines of
        the later epochs (written before the kill, after the checkpoint)."""
        if not self.path.exists():
            return
        if resumed_after is None:
            self.path.unlink()
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line)["epoch"] <= resumed_after
        ]
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    def append(self, record: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
