"""Training configs: one YAML file with four sections, checked and completed with defaults.

Every key of every section is listed below; a key that is not listed is an error that names it.
Relative paths are read from the working directory of the ``lrcalc train`` command.

``model``: the :func:`lrcalc.build_model` config (see :mod:`lrcalc.config` for its keys and
defaults: ``species`` and ``cutoff`` are required). ``avg_num_neighbors`` defaults here to
``"auto"``: the mean number of neighbors within the cutoff per atom of the training set.

``data``:

========================  ==================  ========================================================
key                       default             meaning
========================  ==================  ========================================================
``path``                  required            extxyz file (anything ``ase.io.read`` reads) with labels,
                                              or a glob pattern (``dir/train-*.xyz``): the frames of
                                              every matching file, in sorted file order
``energy_key``            ``"energy"``        per-frame energy, eV (``atoms.info`` or calculator)
``forces_key``            ``"forces"``        per-atom forces, eV/Å
``stress_key``            ``"stress"``        per-frame stress, eV/Å³ (3×3 or Voigt 6, ASE sign)
``virial_key``            ``"virial"``        per-frame virial, eV; used when there is no stress
                                              (stress = −virial / volume)
``charges_key``           ``null``            per-atom reference charges, e (e.g.
                                              ``"initial_charges"``); ``null``: no charge labels
``total_charge_key``      ``"charge"``        ``atoms.info`` key of the total charge, e (default 0
                                              when a frame lacks it); e.g. ``"total_charge"``; a
                                              list of keys (or ``"chargeA+chargeB"``) is summed
``split_file``            ``null``            JSON file ``{"train": [...], "val": [...], "test":
                                              [...]}`` of frame indices (``test`` may be absent)
``split_fractions``       ``[0.8, 0.1, 0.1]`` train, val, test fractions of a random split (used when
                                              there is no ``split_file``; test may be 0)
``split_seed``            0                   seed of the random split
``pbc``                   ``null``            three booleans that replace every frame's pbc, e.g.
                                              ``[true, true, false]`` for slabs stored as 3-D
                                              periodic; ``null``: as in the file
========================  ==================  ========================================================

``training``:

=============================  ============  ==================================================
key                            default       meaning
=============================  ============  ==================================================
``seed``                       0             seed of the data order (each epoch's shuffle)
``device``                     ``"auto"``    ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; ``"auto"``: CUDA
                                             when available
``num_threads``                ``null``      CPU threads of torch during training (``null``: torch's
                                             default); small models train faster with 1–2 threads
``max_epochs``                 100           epochs to train (an extended run may raise it)
``batch_size``                 4             structures per optimizer step (global: summed over
                                             all processes of a distributed run)
``eval_batch_size``            16            structures per batch in validation and test
``energy_weight``              1.0           weight of the energy-per-atom MSE (eV²/atom²)
``forces_weight``              1.0           weight of the force-component MSE (eV²/Å²)
``stress_weight``              0.0           weight of the stress-component MSE (eV²/Å⁶)
``charges_weight``             0.0           weight of the atomic-charge MSE (e²); needs
                                             ``data.charges_key`` and a model that predicts charges
``optimizer``                  ``"adam"``    ``"adam"`` or ``"amsgrad"``
``learning_rate``              0.005         initial learning rate
``weight_decay``               0.0           L2 weight decay of the optimizer
``lr_schedule``                ``"plateau"`` ``"none"``, ``"plateau"`` (reduce when the validation
                                             loss stalls) or ``"cosine"`` (anneal to ``lr_min``
                                             over ``max_epochs``)
``lr_plateau_factor``          0.5           plateau: factor applied to the learning rate
``lr_plateau_patience``        10            plateau: epochs without improvement before reducing
``lr_min``                     1.0e-6        lowest learning rate of both schedules
``ema_decay``                  0.99          decay of the exponential moving average of the weights
                                             (validation and export use it); 0 disables
``gradient_clip_norm``         10.0          clip the gradient norm to this; ``null`` disables
``early_stopping_patience``    50            stop after this many epochs without a better validation
                                             loss; ``null`` disables
``early_stopping_min_delta``   0.0           an improvement smaller than this does not count
``train_shift_scale``          false         also optimise the per-species energy shifts and scales
                                             (they are always initialised from the training data)
``init_model``                 ``null``      start from the weights of this model file (a path or a
                                             shipped model's name) instead of random ones: further
                                             training or fine-tuning. The ``model`` section must
                                             describe the same architecture (all keys but ``seed``,
                                             ``dtype``, the Coulomb method/accuracy keys and
                                             ``avg_num_neighbors``, which comes from the file); the
                                             file's energy shifts and scales are kept
=============================  ============  ==================================================

``output``:

=====================  ==============  ===============================================================
key                    default         meaning
=====================  ==============  ===============================================================
``directory``          ``"run"``       run directory: ``config.yaml``, ``split.json``, ``checkpoint.pt``,
                                       ``best.pt``, ``metrics.jsonl``, ``learning_curves.png``
``progress_bar``       true            a tqdm bar per epoch (only on a terminal)
``plot``               true            write ``learning_curves.png`` at the end
=====================  ==============  ===============================================================

A complete example is ``tutorials/04_train_your_own.py`` (it writes one) and :data:`EXAMPLE_YAML`.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml

from ..config import resolve_config
from ..errors import ConfigError

SECTIONS = ("model", "data", "training", "output")
REQUIRED = {"data": ("path",), "model": ("species", "cutoff")}
DEFAULTS = {
    "data": {
        "path": None,
        "energy_key": "energy",
        "forces_key": "forces",
        "stress_key": "stress",
        "virial_key": "virial",
        "charges_key": None,
        "total_charge_key": "charge",
        "split_file": None,
        "split_fractions": [0.8, 0.1, 0.1],
        "split_seed": 0,
        "pbc": None,
    },
    "training": {
        "seed": 0,
        "device": "auto",
        "num_threads": None,
        "max_epochs": 100,
        "batch_size": 4,
        "eval_batch_size": 16,
        "energy_weight": 1.0,
        "forces_weight": 1.0,
        "stress_weight": 0.0,
        "charges_weight": 0.0,
        "optimizer": "adam",
        "learning_rate": 0.005,
        "weight_decay": 0.0,
        "lr_schedule": "plateau",
        "lr_plateau_factor": 0.5,
        "lr_plateau_patience": 10,
        "lr_min": 1.0e-6,
        "ema_decay": 0.99,
        "gradient_clip_norm": 10.0,
        "early_stopping_patience": 50,
        "early_stopping_min_delta": 0.0,
        "train_shift_scale": False,
        "init_model": None,
    },
    "output": {"directory": "run", "progress_bar": True, "plot": True},
}
OPTIMIZERS = ("adam", "amsgrad")
LR_SCHEDULES = ("none", "plateau", "cosine")
RESUMABLE_CHANGES = {
    ("training", "max_epochs"),
    ("training", "device"),
    ("training", "num_threads"),
    ("output", "progress_bar"),
    ("output", "plot"),
}
"""Keys that may differ between an interrupted run's config and the config it is resumed with."""

EXAMPLE_YAML = """\
model:
  species: [H, C, N, Cu]
  cutoff: 5.0
  num_layers: 2
  l_max: 1
  num_features: 16
  dtype: float32
data:
  path: ../shared/data/cu_bta/cu_bta.extxyz
  charges_key: initial_charges
  total_charge_key: total_charge
  split_file: ../shared/data/cu_bta/split.json
training:
  max_epochs: 200
  batch_size: 4
  energy_weight: 1.0
  forces_weight: 1.0
  learning_rate: 0.005
  lr_schedule: plateau
  ema_decay: 0.99
output:
  directory: runs/cu_bta_small
"""


def _number(section: str, key: str, value, minimum=None, allow_none=False, integer=False, strict=False):
    where = f"{section}.{key}"
    if value is None and allow_none:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{where} must be {what}{' or null' if allow_none else ''}, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ConfigError(f"{where} must be {'>' if strict else '≥'} {minimum}, got {value!r}")
    return value if integer else float(value)


def _choice(section, key, value, choices):
    if value not in choices:
        raise ConfigError(f"{section}.{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def _optional_str(section, key, value):
    if value is not None and not (isinstance(value, str) and value):
        raise ConfigError(f"{section}.{key} must be a non-empty string or null, got {value!r}")
    return value


def resolve_training_config(config: dict) -> dict:
    """Check a training config and return a new dict with every key of every section.

    Raises:
        ConfigError: an unknown section or key (named), a missing required key, an invalid value.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"a training config must be a mapping of sections, got {type(config).__name__}")
    unknown = [key for key in config if key not in SECTIONS]
    if unknown:
        raise ConfigError(
            f"unknown section(s) in the training config: {', '.join(map(str, unknown))} "
            f"(known sections: {', '.join(SECTIONS)})"
        )
    resolved = {}
    for section in SECTIONS:
        given = config.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"section {section!r} must be a mapping of keys, got {given!r}")
        missing = [key for key in REQUIRED.get(section, ()) if given.get(key) is None]
        if missing:
            raise ConfigError(f"section {section!r} lacks required key(s): {', '.join(missing)}")
        if section == "model":
            resolved[section] = _resolve_model_section(given)
            continue
        bad = sorted(set(given) - set(DEFAULTS[section]))
        if bad:
            raise ConfigError(
                f"unknown key(s) in section {section!r}: {', '.join(map(str, bad))} "
                f"(known keys: {', '.join(DEFAULTS[section])})"
            )
        merged = copy.deepcopy(DEFAULTS[section])
        merged.update(copy.deepcopy(given))
        resolved[section] = merged
    if (
        "split_file" in resolved["data"]
        and resolved["data"]["split_file"] is not None
        and "split_fractions" in (config.get("data") or {})
    ):
        raise ConfigError("data.split_file and data.split_fractions are exclusive: give one of them")
    _check_data(resolved["data"])
    _check_training(resolved["training"])
    _check_output(resolved["output"])
    return resolved


def _resolve_model_section(given: dict) -> dict:
    model = copy.deepcopy(given)
    auto = model.get("avg_num_neighbors", "auto") == "auto"
    probe = dict(model)
    if auto:
        probe["avg_num_neighbors"] = 1.0
    try:
        checked = resolve_config(probe)  # unknown keys and invalid values raise ConfigError here
    except ConfigError as error:
        raise ConfigError(f"section 'model': {error}") from None
    if auto:
        checked["avg_num_neighbors"] = "auto"
    return checked


def _check_data(data: dict) -> None:
    pbc = data["pbc"]
    if pbc is not None and (
        not isinstance(pbc, (list, tuple)) or len(pbc) != 3 or not all(isinstance(p, bool) for p in pbc)
    ):
        raise ConfigError(f"data.pbc must be null or three booleans, got {pbc!r}")
    if not isinstance(data["path"], str):
        raise ConfigError(f"data.path must be a file path, got {data['path']!r}")
    for key in (
        "energy_key",
        "forces_key",
        "stress_key",
        "virial_key",
        "charges_key",
        "split_file",
    ):
        _optional_str("data", key, data[key])
    charge_key = data["total_charge_key"]
    if isinstance(charge_key, (list, tuple)):
        if not charge_key or not all(isinstance(k, str) and k for k in charge_key):
            raise ConfigError(f"data.total_charge_key must be a key or a list of keys, got {charge_key!r}")
        data["total_charge_key"] = list(charge_key)
    else:
        _optional_str("data", "total_charge_key", charge_key)
    fractions = data["split_fractions"]
    if (
        not isinstance(fractions, (list, tuple))
        or len(fractions) != 3
        or any(isinstance(f, bool) or not isinstance(f, (int, float)) or f < 0 for f in fractions)
    ):
        raise ConfigError(
            f"data.split_fractions must be three numbers ≥ 0 (train, val, test), got {fractions!r}"
        )
    if sum(fractions) > 1 + 1e-9:
        raise ConfigError(f"data.split_fractions add up to more than 1: {fractions!r}")
    if fractions[0] <= 0 or fractions[1] <= 0:
        raise ConfigError(
            f"data.split_fractions must give train and val a positive fraction, got {fractions!r}"
        )
    data["split_fractions"] = [float(f) for f in fractions]
    _number("data", "split_seed", data["split_seed"], minimum=0, integer=True)


def _check_training(t: dict) -> None:
    _number("training", "seed", t["seed"], minimum=0, integer=True)
    _optional_str("training", "init_model", t["init_model"])
    if not isinstance(t["device"], str):
        raise ConfigError(
            f"training.device must be a string such as 'cpu', 'cuda' or 'auto', got {t['device']!r}"
        )
    _number("training", "num_threads", t["num_threads"], minimum=1, allow_none=True, integer=True)
    for key in ("max_epochs", "batch_size", "eval_batch_size"):
        _number("training", key, t[key], minimum=1, integer=True)
    for key in (
        "energy_weight",
        "forces_weight",
        "stress_weight",
        "charges_weight",
        "weight_decay",
        "early_stopping_min_delta",
        "lr_min",
    ):
        t[key] = _number("training", key, t[key], minimum=0)
    if not any(t[key] > 0 for key in ("energy_weight", "forces_weight", "stress_weight", "charges_weight")):
        raise ConfigError("training: every loss weight is 0; give at least one a positive value")
    _choice("training", "optimizer", t["optimizer"], OPTIMIZERS)
    _choice("training", "lr_schedule", t["lr_schedule"], LR_SCHEDULES)
    t["learning_rate"] = _number("training", "learning_rate", t["learning_rate"], minimum=0, strict=True)
    factor = _number("training", "lr_plateau_factor", t["lr_plateau_factor"], minimum=0, strict=True)
    if factor >= 1:
        raise ConfigError(f"training.lr_plateau_factor must be < 1, got {factor}")
    t["lr_plateau_factor"] = factor
    _number("training", "lr_plateau_patience", t["lr_plateau_patience"], minimum=0, integer=True)
    decay = _number("training", "ema_decay", t["ema_decay"], minimum=0)
    if decay >= 1:
        raise ConfigError(f"training.ema_decay must be in [0, 1), got {decay}")
    t["ema_decay"] = decay
    t["gradient_clip_norm"] = _number(
        "training", "gradient_clip_norm", t["gradient_clip_norm"], minimum=0, allow_none=True, strict=True
    )
    _number(
        "training",
        "early_stopping_patience",
        t["early_stopping_patience"],
        minimum=1,
        allow_none=True,
        integer=True,
    )
    if not isinstance(t["train_shift_scale"], bool):
        raise ConfigError(f"training.train_shift_scale must be true or false, got {t['train_shift_scale']!r}")


def _check_output(o: dict) -> None:
    if not isinstance(o["directory"], str) or not o["directory"]:
        raise ConfigError(f"output.directory must be a path, got {o['directory']!r}")
    for key in ("progress_bar", "plot"):
        if not isinstance(o[key], bool):
            raise ConfigError(f"output.{key} must be true or false, got {o[key]!r}")


def load_training_config(source) -> dict:
    """A resolved training config from a YAML file path, a YAML string's parsed dict, or a dict.

    Raises:
        ConfigError: a missing or unparsable file, or any problem :func:`resolve_training_config`
            finds.
    """
    if isinstance(source, dict):
        return resolve_training_config(source)
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"training config file {str(path)!r} not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return resolve_training_config(raw or {})


def config_differences(old: dict, new: dict) -> list[str]:
    """``section.key`` of every value that differs between two resolved configs and may not change
    when a run is resumed."""
    differences = []
    for section in SECTIONS:
        keys = set(old.get(section, {})) | set(new.get(section, {}))
        for key in sorted(keys):
            if (section, key) in RESUMABLE_CHANGES:
                continue
            if old.get(section, {}).get(key) != new.get(section, {}).get(key):
                differences.append(f"{section}.{key}")
    return differences
