"""Record the training domain (lrcalc.domain) and the trainable-parameter count in the metadata of
shipped models saved before lrcalc wrote them: the total-charge key(s) and range, periodicity and
compositions of each model's training split, from the data its metadata names. Weights, config and
format are untouched.

    python models/recipes/record_training_domain.py     # from the repository root, ../shared beside it
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lrcalc.domain import TrainingDomain
from lrcalc.model_file import load_model, read_model_file, shipped_models
from lrcalc.training.config import DEFAULTS
from lrcalc.training.data import read_dataset


def _save(payload: dict, path: Path) -> None:
    temporary = path.with_name(path.name + ".partial")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def record(path: Path) -> str:
    _, payload = read_model_file(path)
    payload["metadata"]["num_parameters"] = sum(p.numel() for p in load_model(path).parameters())
    training = payload["metadata"].get("training")
    if not training:
        _save(payload, path)
        return f"{path.name}: no training metadata (untrained): parameter count only"
    data_cfg = {**DEFAULTS["data"], **training["config"]["data"]}
    dataset = read_dataset(data_cfg["path"], data_cfg)
    frames = [dataset.frames[k] for k in training["split"]["train"]]
    domain = TrainingDomain.from_frames(frames, payload["config"]["species"], data_cfg["total_charge_key"],
                                        data_cfg["pbc"])
    payload["metadata"]["training_domain"] = domain.to_metadata()
    _save(payload, path)
    return (f"{path.name}: charge {domain.charge_keys} in {domain.total_charge_range}, pbc {domain.pbc}, "
            f"{len(domain.compositions)} independent composition(s)")


if __name__ == "__main__":
    for model_path in shipped_models():
        print(record(model_path))
