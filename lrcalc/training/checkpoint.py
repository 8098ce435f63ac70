"""The files of a run directory that make a run resumable: ``checkpoint.pt``, ``config.yaml`` and
``split.json``. Each is written atomically (a ``.partial`` file, then a rename), so a run killed at
any moment leaves the previous version intact.

``checkpoint.pt`` is plain data (``torch.load(weights_only=True)`` reads it)::

    {"format": "lrcalc-checkpoint", "format_version": 1,
     "config": {...}, "split": {"train": [...], "val": [...], "test": [...]},
     "dataset_sha256": "...", "statistics": {...},        # what the model was built with
     "state": {"epoch", "best_val_loss", "best_epoch", "bad_epochs", "stopped", "training_time_s"},
     "model": ..., "optimizer": ..., "scheduler": ..., "ema": ...,   # state dicts
     "best_model": ...,                                   # EMA weights of the best epoch
     "rng": {"torch", "numpy", "python"}}                 # random number generator states

With the data order drawn from ``(seed, epoch)`` alone, that is everything a resumed run needs to
end with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch
import yaml

from ..errors import InputError
from .optimizer import load_scheduler_state, scheduler_state

CHECKPOINT_FORMAT = "lrcalc-checkpoint"
CHECKPOINT_VERSION = 1


def atomic_torch_save(obj, path: Path) -> None:
    temporary = path.with_name(path.name + ".partial")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, path)


def rng_state() -> dict:
    """torch, numpy and Python RNG states as tensors and lists (loadable with ``weights_only=True``)."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["position"], n["has_gauss"], n["cached"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


def write_run_files(run_dir: Path, config: dict, split: dict) -> None:
    """``config.yaml`` (the completed config) and ``split.json`` (the frame indices of each set)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    atomic_write_text(run_dir / "split.json", json.dumps(split) + "\n")


def save_checkpoint(
    path: Path,
    *,
    config: dict,
    split: dict,
    dataset_sha256: str,
    statistics: dict,
    state: dict,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    ema,
    best_model: dict,
) -> None:
    """Write ``checkpoint.pt`` (see the module docstring), with the current RNG states."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "config": config,
        "split": split,
        "dataset_sha256": dataset_sha256,
        "statistics": statistics,
        "state": dict(state),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler_state(scheduler),
        "ema": ema.state_dict(),
        "best_model": best_model,
        "rng": rng_state(),
    }
    atomic_torch_save(payload, path)


def restore_checkpoint(
    checkpoint: dict,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    ema,
    max_epochs: int,
) -> None:
    """Load the weights, optimizer, schedule (annealing over ``max_epochs``, which a resumed run may
    extend), EMA and RNG states of ``checkpoint``. Its ``state`` and ``best_model`` are the caller's."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    load_scheduler_state(scheduler, checkpoint["scheduler"], max_epochs)
    ema.load_state_dict(checkpoint["ema"])
    set_rng_state(checkpoint["rng"])


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (plain data only: ``torch.load(weights_only=True)``)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(
            f"{path}: not a readable training checkpoint: {str(error).splitlines()[0]}"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not an lrcalc training checkpoint")
    return checkpoint
