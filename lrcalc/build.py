"""``build_model(config)``: a model from a plain config dict (see :mod:`lrcalc.config`)."""

from __future__ import annotations

import inspect

import torch

from .config import resolve_config
from .nn.base import AtomisticModel
from .nn.short_range import ShortRangeModel

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def model_class_for(long_range: str) -> type[AtomisticModel]:
    """The model class of a ``long_range`` method (long-range models import the electrostatics
    engine only when needed)."""
    if long_range == "none":
        return ShortRangeModel
    if long_range == "qeq":
        from .nn.qeq_model import QeqModel

        return QeqModel
    if long_range == "lorem":
        from .nn.lorem_model import LoremModel

        return LoremModel
    raise AssertionError(long_range)  # resolve_config only admits implemented methods


def build_model(config: dict) -> AtomisticModel:
    """Build a freshly initialised model from ``config``.

    The weights are drawn from ``config["seed"]`` without touching torch's global random state or
    default dtype. ``model.config`` holds the completed config (every key, defaults filled in).

    Raises:
        ConfigError: for a missing or unknown key or an invalid value.
    """
    config = resolve_config(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config["seed"])
        model_class = model_class_for(config["long_range"])
        # every constructor argument is a config key of the same name
        arguments = inspect.signature(model_class.__init__).parameters
        model = model_class(**{key: config[key] for key in arguments if key != "self"})
    model.config = config
    model.metadata = {}
    return model.to(DTYPES[config["dtype"]])
