"""Model configs: plain JSON-serialisable dicts, checked and completed with defaults.

==========================  =========  ==========================================================
key                         default    meaning
==========================  =========  ==========================================================
``species``                 required   element symbols the model knows, e.g. ``["Cu", "C", "N"]``
``cutoff``                  required   neighbor cutoff radius, Å
``long_range``              ``"none"`` ``"none"`` (short-range), ``"qeq"`` (NequIP-LR) or ``"lorem"``
                                       (equivariant charges, LOREM), see below
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

With ``long_range: "none"`` one more key applies:

==========================  =========  ==========================================================
``total_charge_input``      False      the structure's total charge Q (``atoms.info["charge"]``)
                                       enters the atom features next to the species, so one
                                       model can tell a cation from its neutral molecule (a
                                       local model still cannot place the charge)
==========================  =========  ==========================================================

With ``long_range: "qeq"`` (NequIP-LR, :mod:`lrcalc.nn.qeq_model`) ``num_layers`` counts the layers
before the charge equilibration, and these keys apply (an error with ``"none"``):

==========================  =========  ==========================================================
``num_layers_feedback``     1          interaction layers after the charges are known
``charge_feedback``         True       feed the charges into those layers (False: ablation)
``learn_sigma``             True       learn the Gaussian charge widths σ_Z (else fixed at the
                                       covalent radii)
``hardness_init``           1.0        initial hardness J_Z, eV/e² (learned, kept positive)
``charge_embedding_size``   8          Gaussians in the charge embedding g(q)
``charge_embedding_max``    1.5        the embedding grid spans [−max, max], e
``qeq_method``              auto       Coulomb strategy: auto, direct, ewald, pme, p3m
``qeq_accuracy``            1e-4       relative accuracy of the Coulomb sums and of the charge
                                       solve (forces then change by ~1e-4 of the Coulomb
                                       forces: 0.04 meV/Å at most for bta_cu.pt, measured)
==========================  =========  ==========================================================

With ``long_range: "lorem"`` (equivariant charges, :mod:`lrcalc.nn.lorem_model`) ``num_layers``
counts the local layers before the first long-range step, and these keys apply (an error with
``"none"`` or ``"qeq"``):

==========================  =========  ==========================================================
``num_lr_steps``            1          long-range message-passing steps (0: none, an ablation)
``lorem_l_max``             2          highest order l of the equivariant charges; at most
                                       2·``l_max`` (charges are up to quadratic in the features)
``lorem_channels``          4          charge channels C per order l
``lorem_sigma``             1.0        Gaussian width of every charge, Å
``lorem_coulomb``           False      add a physical Coulomb energy ½Σ q_i φ_i of scalar charges
                                       that sum to the total charge; the model then outputs
                                       ``charges``
``total_charge_input``      True       the structure's total charge Q enters the atom features
``lorem_method``            auto       Coulomb strategy: auto, direct, ewald, pme, p3m
``lorem_accuracy``          1e-4       relative accuracy of the Coulomb sums, in [1e-12, 1e-2]
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
QEQ_DEFAULTS = {
    "num_layers_feedback": 1,
    "charge_feedback": True,
    "learn_sigma": True,
    "hardness_init": 1.0,
    "charge_embedding_size": 8,
    "charge_embedding_max": 1.5,
    "qeq_method": "auto",
    "qeq_accuracy": 1e-4,
}
LOREM_DEFAULTS = {
    "num_lr_steps": 1,
    "lorem_l_max": 2,
    "lorem_channels": 4,
    "lorem_sigma": 1.0,
    "lorem_coulomb": False,
    "total_charge_input": True,
    "lorem_method": "auto",
    "lorem_accuracy": 1e-4,
}
SHORT_RANGE_DEFAULTS = {"total_charge_input": False}
LONG_RANGE_DEFAULTS = {"none": SHORT_RANGE_DEFAULTS, "qeq": QEQ_DEFAULTS, "lorem": LOREM_DEFAULTS}
LONG_RANGE_METHODS = tuple(LONG_RANGE_DEFAULTS)
DTYPES = ("float32", "float64")


def _positive_int(config, key):
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"config[{key!r}] must be a positive integer, got {value!r}")


def _check_qeq(config: dict) -> None:
    if isinstance(config["num_layers_feedback"], bool) or not isinstance(config["num_layers_feedback"], int) \
            or config["num_layers_feedback"] < 0:
        raise ConfigError("config['num_layers_feedback'] must be an integer ≥ 0")
    for key in ("charge_feedback", "learn_sigma"):
        if not isinstance(config[key], bool):
            raise ConfigError(f"config[{key!r}] must be true or false, got {config[key]!r}")
    for key in ("hardness_init", "charge_embedding_max", "qeq_accuracy"):
        if isinstance(config[key], bool) or not isinstance(config[key], (int, float)) or not config[key] > 0:
            raise ConfigError(f"config[{key!r}] must be a positive number, got {config[key]!r}")
    _positive_int(config, "charge_embedding_size")
    if config["qeq_method"] not in ("auto", "direct", "ewald", "pme", "p3m"):
        raise ConfigError(f"config['qeq_method'] must be auto, direct, ewald, pme or p3m, got {config['qeq_method']!r}")


def _check_lorem(config: dict) -> None:
    """Checks of the LOREM keys; ``l_max`` must already be valid."""
    for key in ("num_lr_steps", "lorem_l_max"):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"config[{key!r}] must be an integer ≥ 0, got {value!r}")
    if config["lorem_l_max"] > 2 * config["l_max"]:
        raise ConfigError(
            f"config['lorem_l_max']={config['lorem_l_max']} exceeds 2·l_max={2 * config['l_max']}: "
            "charges are built from the features (linearly and by a product of two of them), "
            "so higher orders would be zero; raise l_max or lower lorem_l_max"
        )
    _positive_int(config, "lorem_channels")
    for key in ("lorem_coulomb", "total_charge_input"):
        if not isinstance(config[key], bool):
            raise ConfigError(f"config[{key!r}] must be true or false, got {config[key]!r}")
    sigma = config["lorem_sigma"]
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ConfigError(f"config['lorem_sigma'] must be a positive number of Å, got {sigma!r}")
    accuracy = config["lorem_accuracy"]
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 1e-12 <= accuracy <= 1e-2:
        raise ConfigError(f"config['lorem_accuracy'] must be a number in [1e-12, 1e-2], got {accuracy!r}")
    if config["lorem_method"] not in ("auto", "direct", "ewald", "pme", "p3m"):
        raise ConfigError(
            f"config['lorem_method'] must be auto, direct, ewald, pme or p3m, got {config['lorem_method']!r}"
        )


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
    method = config.get("long_range", DEFAULTS["long_range"])
    if method not in LONG_RANGE_METHODS:
        raise ConfigError(
            f"config['long_range']={method!r} is not available in this version of "
            f"lrcalc (available: {', '.join(LONG_RANGE_METHODS)})"
        )
    extra = LONG_RANGE_DEFAULTS[method]
    all_extra = {key for defaults in LONG_RANGE_DEFAULTS.values() for key in defaults}
    misplaced = sorted((set(config) & all_extra) - set(extra))
    if misplaced:
        raise ConfigError(
            f"config key(s) {', '.join(misplaced)} do not apply to long_range={method!r}"
        )
    unknown = sorted(set(config) - set(REQUIRED) - set(DEFAULTS) - all_extra)
    if unknown:
        known = ", ".join(sorted(set(REQUIRED) | set(DEFAULTS) | all_extra))
        raise ConfigError(f"unknown model config key(s): {', '.join(unknown)} (known keys: {known})")
    resolved = copy.deepcopy(DEFAULTS)
    resolved.update(copy.deepcopy(extra))
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
    if method == "qeq":
        _check_qeq(resolved)
    if method == "none" and not isinstance(resolved["total_charge_input"], bool):
        raise ConfigError(f"config['total_charge_input'] must be true or false, got {resolved['total_charge_input']!r}")
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
    if method == "lorem":
        _check_lorem(resolved)
    try:
        json.dumps(resolved)
    except TypeError as error:
        raise ConfigError(f"a model config must be JSON-serialisable: {error}") from None
    return resolved
