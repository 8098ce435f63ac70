"""``build_model(config)``: a model from a plain config dict (see :mod:`lrcalc.config`)."""

from __future__ import annotations

import torch

from .config import resolve_config
from .nn.base import AtomisticModel
from .nn.short_range import ShortRangeModel

DTYPES = {"float32": torch.float32, "float64": torch.float64}


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
        if config["long_range"] == "none":
            model = ShortRangeModel(
                species=config["species"],
                cutoff=config["cutoff"],
                num_layers=config["num_layers"],
                l_max=config["l_max"],
                num_features=config["num_features"],
                parity=config["parity"],
                num_radial_basis=config["num_radial_basis"],
                radial_mlp_hidden=config["radial_mlp_hidden"],
                radial_mlp_layers=config["radial_mlp_layers"],
                polynomial_p=config["polynomial_p"],
                avg_num_neighbors=config["avg_num_neighbors"],
                total_charge_input=config["total_charge_input"],
            )
        elif config["long_range"] == "qeq":
            from .nn.qeq_model import QeqModel  # imports the electrostatics engine only when needed

            model = QeqModel(
                **{key: config[key] for key in (
                    "species", "cutoff", "num_layers", "num_layers_feedback", "l_max", "num_features",
                    "parity", "num_radial_basis", "radial_mlp_hidden", "radial_mlp_layers",
                    "polynomial_p", "avg_num_neighbors", "charge_feedback", "learn_sigma",
                    "hardness_init", "charge_embedding_size", "charge_embedding_max", "qeq_method",
                    "qeq_accuracy",
                )}
            )
        elif config["long_range"] == "lorem":
            from .nn.lorem_model import LoremModel  # imports the electrostatics engine only when needed

            model = LoremModel(
                **{key: config[key] for key in (
                    "species", "cutoff", "num_layers", "l_max", "num_features", "parity",
                    "num_radial_basis", "radial_mlp_hidden", "radial_mlp_layers", "polynomial_p",
                    "avg_num_neighbors", "num_lr_steps", "lorem_l_max", "lorem_channels",
                    "lorem_sigma", "lorem_coulomb", "total_charge_input", "lorem_method",
                    "lorem_accuracy",
                )}
            )
        else:  # resolve_config only admits implemented methods
            raise AssertionError(config["long_range"])
    model.config = config
    model.metadata = {}
    return model.to(DTYPES[config["dtype"]])
