"""``build_model(config)``: a model from a plain config dict (see :mod:`lrcalc.config`)."""

from __future__ import annotations

import torch

from .config import resolve_config
from .nn.model import AtomisticModel

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def build_model(config: dict) -> AtomisticModel:
    """Build a freshly initialised model from ``config``: the stages it asks for
    (:meth:`AtomisticModel.from_config`).

    The weights are drawn from ``config["seed"]`` without touching torch's global random state or
    default dtype. ``model.config`` holds the completed config (every key, defaults filled in).

    Raises:
        ConfigError: for a missing or unknown key or an invalid value.
    """
    config = resolve_config(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config["seed"])
        model = AtomisticModel.from_config(config)
    model.config = config
    model.metadata = {}
    return model.to(DTYPES[config["dtype"]])
