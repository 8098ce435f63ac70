"""Model configs: plain JSON-serialisable dicts, checked and completed with defaults.

==========================  =========  ==========================================================
key                         default    meaning
==========================  =========  ==========================================================
``species``                 required   element symbols the model knows, e.g. ``["Cu", "C", "N"]``
``cutoff``                  required   neighbor cutoff radius, Å
``long_range``              ``"none"`` long-range method; this version implements ``"none"``
``num_layers``              3          interaction blocks
``l_max``                   1          highest rotation order of features and spherical harmonics
``num_features``            32         channels per irrep
``dtype``                   float64    ``"float32"`` (fast) or ``"float64"`` (accurate)
``parity``                  True       keep both parities of each l (see ``hidden_irreps``)
``num_radial_basis``        8          Bessel functions in the radial embedding
``radial_mlp_hidden``       64         width of the radial MLP
``radial_mlp_layers``       2          hidden layers of the radial MLP
``polynomial_p``            6          order p of the cutoff envelope
``avg_num_neighbors``       20.0       ⟨n⟩ that normalises the convolution sum (training sets it
                                       from its data)
``seed``                    0          seed of the weight initialisation
==========================  =========  ==========================================================
"""

from __future__ import annotations

import copy
import json

from ase.data import atomic_numbers

from .errors import ConfigError

REQUIRED = ("species", "cutoff")
DEFAULTS = {
    "long_range": "none",
    "num_layers": 3,
    "l_max": 1,
    "num_features": 32,
    "dtype": "float64",
    "parity": True,
    "num_radial_basis": 8,
    "radial_mlp_hidden": 64,
    "radial_mlp_layers": 2,
    "polynomial_p": 6,
    "avg_num_neighbors": 20.0,
    "seed": 0,
}
LONG_RANGE_METHODS = ("none",)
DTYPES = ("float32", "float64")


def _positive_int(config, key):
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"config[{key!r}] must be a positive integer, got {value!r}")


def resolve_config(config: dict) -> dict:
    """Check ``config`` and return a new dict with every key (defaults filled in).

    Raises:
        ConfigError: for a missing required key, an unknown key or an invalid value.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"a model config must be a dict, got {type(config).__name__}")
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise ConfigError(f"model config lacks required key(s): {', '.join(missing)}")
    unknown = sorted(set(config) - set(REQUIRED) - set(DEFAULTS))
    if unknown:
        known = ", ".join(sorted(set(REQUIRED) | set(DEFAULTS)))
        raise ConfigError(f"unknown model config key(s): {', '.join(unknown)} (known keys: {known})")
    resolved = copy.deepcopy(DEFAULTS)
    resolved.update(copy.deepcopy(config))

    species = resolved["species"]
    if not isinstance(species, (list, tuple)) or not species:
        raise ConfigError("config['species'] must be a non-empty list of element symbols")
    bad = [s for s in species if s not in atomic_numbers or s == "X"]
    if bad:
        raise ConfigError(f"config['species'] holds unknown element symbol(s): {bad}")
    if len(set(species)) != len(species):
        raise ConfigError(f"config['species'] lists an element twice: {species}")
    resolved["species"] = list(species)
    if not isinstance(resolved["cutoff"], (int, float)) or not resolved["cutoff"] > 0:
        raise ConfigError(f"config['cutoff'] must be a positive number of Å, got {resolved['cutoff']!r}")
    resolved["cutoff"] = float(resolved["cutoff"])
    if resolved["long_range"] not in LONG_RANGE_METHODS:
        raise ConfigError(
            f"config['long_range']={resolved['long_range']!r} is not available in this version of "
            f"lrcalc (available: {', '.join(LONG_RANGE_METHODS)})"
        )
    if resolved["dtype"] not in DTYPES:
        raise ConfigError(f"config['dtype'] must be one of {DTYPES}, got {resolved['dtype']!r}")
    for key in ("num_layers", "num_features", "num_radial_basis", "radial_mlp_hidden", "radial_mlp_layers"):
        _positive_int(resolved, key)
    if isinstance(resolved["l_max"], bool) or not isinstance(resolved["l_max"], int) or resolved["l_max"] < 0:
        raise ConfigError(f"config['l_max'] must be an integer ≥ 0, got {resolved['l_max']!r}")
    if not isinstance(resolved["parity"], bool):
        raise ConfigError(f"config['parity'] must be true or false, got {resolved['parity']!r}")
    if not isinstance(resolved["avg_num_neighbors"], (int, float)) or not resolved["avg_num_neighbors"] > 0:
        raise ConfigError("config['avg_num_neighbors'] must be a positive number")
    try:
        json.dumps(resolved)
    except TypeError as error:
        raise ConfigError(f"a model config must be JSON-serialisable: {error}") from None
    return resolved
