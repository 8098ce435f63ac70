"""Model files: save, load, and find shipped models by name.

A model file is a ``torch.save`` archive of plain data only::

    {"format": "lrcalc-model", "format_version": 2,
     "config": {...},            # the completed build_model config
     "state_dict": {...},        # tensors
     "metadata": {...}}          # lrcalc version, creation time, training data, measured errors, ...

It is read with ``torch.load(weights_only=True)``: a file that holds pickled Python objects (which
could run code when unpickled) is refused, never executed.
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
from pathlib import Path

import torch

from .build import build_model
from .errors import ConfigError, ModelFileError
from .nn import layout_v1
from .nn.model import AtomisticModel

FORMAT = "lrcalc-model"
FORMAT_VERSION = 2
"""2: the model of stages (``local``, ``long_range``, ``coulomb_term``, ``head``); files of format 1
are converted on load (:mod:`lrcalc.nn.layout_v1`)."""
MODEL_SUFFIX = ".pt"


def shipped_model_dirs() -> list[Path]:
    """Folders searched for bare model names: the installed package's ``lrcalc/models`` (a
    non-editable install copies the repository's ``models/`` there) and the source checkout's
    ``models/``."""
    package = Path(__file__).resolve().parent
    return [d for d in (package / "models", package.parent / "models") if d.is_dir()]


def shipped_models() -> list[Path]:
    """Model files shipped with lrcalc, by name."""
    found = {}
    for folder in shipped_model_dirs():
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
            found.setdefault(path.name, path)
    return [found[name] for name in sorted(found)]


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A path as given (relative to the working directory) if it exists, else a shipped model of
    that name (``"bta_cu.pt"`` or ``"bta_cu"``).

    Raises:
        ModelFileError: when neither exists; the message lists the shipped models.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    if path.name == str(name_or_path):  # a bare name: look in the shipped models
        for folder in shipped_model_dirs():
            for candidate in (folder / path.name, folder / (path.name + MODEL_SUFFIX)):
                if candidate.is_file():
                    return candidate
    available = ", ".join(p.name for p in shipped_models()) or "none"
    raise ModelFileError(
        f"model file {str(name_or_path)!r} not found (not a file from {os.getcwd()!r}, "
        f"nor a shipped model; shipped models: {available})"
    )


def _plain(value, what: str):
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serialisable: {error}") from None


def save_model(model: AtomisticModel, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Write ``model`` (config, weights, metadata) to ``path``; returns the path.

    ``metadata`` (JSON-serialisable) is merged over the model's own ``model.metadata``; the lrcalc
    version and a UTC timestamp are added. The file is written to a temporary name and renamed, so
    an interrupted save never leaves a truncated model file.
    """
    from . import __version__

    if not isinstance(model, AtomisticModel) or not hasattr(model, "config"):
        raise TypeError("save_model expects a model made by lrcalc.build_model or lrcalc.load_model")
    merged = dict(getattr(model, "metadata", {}) or {})
    merged.update(metadata or {})
    merged["lrcalc_version"] = __version__
    merged["num_parameters"] = sum(p.numel() for p in model.parameters())  # trainable, buffers excluded
    merged["saved_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": _plain(model.config, "the model config"),
        "state_dict": {key: value.detach().cpu().clone() for key, value in model.state_dict().items()},
        "metadata": _plain(merged, "metadata"),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    torch.save(payload, temporary)
    os.replace(temporary, path)
    return path


def read_model_file(name_or_path: str | os.PathLike) -> tuple[Path, dict]:
    """Resolve and read a model file safely; returns ``(path, payload)`` without building a model."""
    path = resolve_model_path(name_or_path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelFileError(
            f"{path}: refused: the file contains Python objects beyond plain data and tensors, which "
            f"could run code when loaded. An lrcalc model file never does; only open it with "
            f"torch.load(weights_only=False) if you trust its origin. ({str(error).splitlines()[0]})"
        ) from None
    except Exception as error:  # torch.load raises many types on damaged archives (even IndexError)
        raise ModelFileError(
            f"{path}: not a readable model file (corrupt or truncated?): {str(error).splitlines()[0]}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an lrcalc model file (no '{FORMAT}' format marker)")
    version = payload.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path}: the model file has no valid format version")
    if version > FORMAT_VERSION:
        from . import __version__

        raise ModelFileError(
            f"{path}: written in model-file format {version}, newer than this lrcalc "
            f"{__version__} reads (format {FORMAT_VERSION}); upgrade lrcalc"
        )
    for key in ("config", "state_dict", "metadata"):
        if key not in payload:
            raise ModelFileError(f"{path}: the model file lacks its {key!r} section")
    return path, payload


def load_model(name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> AtomisticModel:
    """Load a model from a file path or the bare name of a shipped model (e.g. ``"bta_cu.pt"``).

    Raises:
        ModelFileError: missing, corrupt, truncated, foreign, unsafe or newer-format files, and
            weights that do not fit the config; the message names the file.
    """
    path, payload = read_model_file(name_or_path)
    config, state_dict = payload["config"], payload["state_dict"]
    if payload["format_version"] == 1:
        config = layout_v1.convert_config(config)
        state_dict = layout_v1.convert_state_dict(config.get("long_range", "none"), state_dict)
    try:
        model = build_model(config)
    except ConfigError as error:
        raise ModelFileError(f"{path}: the model config in the file is invalid: {error}") from None
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, KeyError) as error:
        raise ModelFileError(f"{path}: the weights do not fit the model config: {error}") from None
    model.metadata = payload["metadata"]
    model.source_path = str(path)
    return model.to(device)
