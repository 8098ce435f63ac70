"""Training configs: one YAML file with four sections, checked and completed by declared schemas.

``model`` is the :func:`lrcalc.build_model` config (:data:`lrcalc.config.MODEL_SCHEMA`;
``avg_num_neighbors`` defaults here to ``"auto"``: the mean number of neighbors within the cutoff per
atom of the training set). ``data``, ``training`` and ``output`` are :data:`DATA_SCHEMA`,
:data:`TRAINING_SCHEMA` and :data:`OUTPUT_SCHEMA` below: every key with its type, default, allowed
values and meaning, declared once; the checks, :data:`DEFAULTS`, the README's tables and
``lrcalc info --keys`` come from them. A key that is not declared is an error that names it.
Relative paths are read from the working directory of the ``lrcalc train`` command.

A complete example is ``tutorials/04_train_your_own.py`` (it writes one) and :data:`EXAMPLE_YAML`."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..config import resolve_config
from ..errors import ConfigError
from ..schema import REQUIRED, Schema, Setting

SECTIONS = ("model", "data", "training", "output")
OPTIMIZERS = ("adam", "amsgrad")
LR_SCHEDULES = ("none", "plateau", "cosine")


def _three_booleans(value) -> str | None:
    if len(value) != 3 or not all(isinstance(p, bool) for p in value):
        return "not three booleans"
    return None


def _charge_keys(value) -> str | None:
    if isinstance(value, str) and value:
        return None
    if isinstance(value, (list, tuple)) and value and all(isinstance(k, str) and k for k in value):
        return None
    return "neither a key nor a list of keys"


def _fractions(value) -> str | None:
    if len(value) != 3 or any(isinstance(f, bool) or not isinstance(f, (int, float)) or f < 0 for f in value):
        return "not three numbers ≥ 0"
    if sum(value) > 1 + 1e-9:
        return "they add up to more than 1"
    if value[0] <= 0 or value[1] <= 0:
        return "train and val need a positive fraction"
    return None


def _below_one(value) -> str | None:
    return None if value < 1 else "it must be below 1"


DATA_SCHEMA = Schema("'data' section", label_format="data.{}", settings=[
    Setting("path", "str", REQUIRED, "extxyz file (anything `ase.io.read` reads) with labels, or a glob "
            "pattern (`dir/train-*.xyz`): the frames of every matching file, in sorted file order"),
    Setting("energy_key", "str", "energy", "per-frame energy, eV (`atoms.info` or calculator)", nullable=True),
    Setting("forces_key", "str", "forces", "per-atom forces, eV/Å", nullable=True),
    Setting("stress_key", "str", "stress", "per-frame stress, eV/Å³ (3×3 or Voigt 6, ASE sign)", nullable=True),
    Setting("virial_key", "str", "virial", "per-frame virial, eV; used when there is no stress "
            "(stress = −virial / volume)", nullable=True),
    Setting("charges_key", "str", None, "per-atom reference charges, e (e.g. `initial_charges`); null: no "
            "charge labels", nullable=True),
    Setting("charges_scale", "float", 1.0, "factor applied to the charge labels as they are read: −1 for labels "
            "stored with the opposite sign convention (the Cu-BTA sets' `initial_charges`, see models/README.md)"),
    Setting("total_charge_key", "any", "charge", "`atoms.info` key of the total charge, e (0 when a frame "
            "lacks it), e.g. `total_charge`; a list of keys (the dimers' `[chargeA, chargeB]`) is summed",
            nullable=True, check=_charge_keys, allowed_words="a key or a list of keys"),
    Setting("fragment_key", "str", None, "fragments for Qeq models with `charge_constraint: fragments`: an "
            "`atoms.arrays` key of per-atom fragment indices 0 … F−1, or an `atoms.info` key holding the index of "
            "the first atom of fragment 1 (a list: of fragments 1, 2, …), e.g. the dimers' `indexB`; null: the "
            "frames' own `fragment` arrays and `fragment_charges`, if any", nullable=True),
    Setting("fragment_charge_keys", "any", None, "total charge of each fragment, e: `atoms.info` keys in fragment "
            "order (the dimers' `[chargeA, chargeB]`) or one key holding a list; needed with `fragment_key`",
            nullable=True, check=_charge_keys, allowed_words="a key or a list of keys"),
    Setting("fragment_charge_order", "str", "as_listed", "`as_listed`: the n-th fragment charge belongs to "
            "fragment n (a frame where only another order gives every fragment an even number of electrons is "
            "an error); `closed_shell`: the charges go to the fragments in the one order that makes every "
            "fragment closed-shell (the dimers' CP file lists the anion's charge as `chargeA` though its atoms "
            "come second)", choices=("as_listed", "closed_shell")),
    Setting("split_file", "str", None, "JSON file `{\"train\": [...], \"val\": [...], \"test\": [...]}` of "
            "frame indices (`test` may be absent)", nullable=True),
    Setting("split_fractions", "list", [0.8, 0.1, 0.1], "train, val, test fractions of a random split (used "
            "when there is no `split_file`; test may be 0)", check=_fractions,
            allowed_words="three numbers ≥ 0 (train, val, test) adding up to at most 1"),
    Setting("split_seed", "int", 0, "seed of the random split", minimum=0),
    Setting("pbc", "list", None, "three booleans that replace every frame's pbc, e.g. `[true, true, false]` "
            "for slabs stored as 3-D periodic; null: as in the file", nullable=True, check=_three_booleans,
            allowed_words="three booleans"),
])

TRAINING_SCHEMA = Schema("'training' section", label_format="training.{}", settings=[
    Setting("seed", "int", 0, "seed of the data order (each epoch's shuffle)", minimum=0),
    Setting("device", "str", "auto", "`cpu`, `cuda`, `cuda:1`…; `auto`: CUDA when available"),
    Setting("num_threads", "int", None, "CPU threads of torch during training (null: torch's default); small "
            "models train faster with 1–2 threads", minimum=1, nullable=True),
    Setting("max_epochs", "int", 100, "epochs to train (an extended run may raise it)", minimum=1),
    Setting("batch_size", "int", 4, "structures per optimizer step (global: summed over all processes of "
            "a distributed run)", minimum=1),
    Setting("eval_batch_size", "int", 16, "structures per batch in validation and test", minimum=1),
    Setting("energy_weight", "float", 1.0, "weight of the energy-per-atom MSE (eV²/atom²)", minimum=0),
    Setting("forces_weight", "float", 1.0, "weight of the force-component MSE (eV²/Å²)", minimum=0),
    Setting("stress_weight", "float", 0.0, "weight of the stress-component MSE (eV²/Å⁶)", minimum=0),
    Setting("charges_weight", "float", 0.0, "weight of the atomic-charge MSE (e²); needs `data.charges_key` "
            "and a model that predicts charges", minimum=0),
    Setting("optimizer", "str", "adam", "the optimizer", choices=OPTIMIZERS),
    Setting("learning_rate", "float", 0.005, "initial learning rate", positive=True),
    Setting("weight_decay", "float", 0.0, "L2 weight decay of the optimizer", minimum=0),
    Setting("lr_schedule", "str", "plateau", "`none`, `plateau` (reduce when the validation loss stalls) or "
            "`cosine` (anneal to `lr_min` over `max_epochs`)", choices=LR_SCHEDULES),
    Setting("lr_plateau_factor", "float", 0.5, "plateau: factor applied to the learning rate", positive=True,
            check=_below_one, allowed_words="a number in (0, 1)"),
    Setting("lr_plateau_patience", "int", 10, "plateau: epochs without improvement before reducing", minimum=0),
    Setting("lr_min", "float", 1.0e-6, "lowest learning rate of both schedules", minimum=0),
    Setting("ema_decay", "float", 0.99, "decay of the exponential moving average of the weights "
            "(validation and export use it); 0 disables", minimum=0, check=_below_one,
            allowed_words="a number in [0, 1)"),
    Setting("gradient_clip_norm", "float", 10.0, "clip the gradient norm to this; null disables",
            positive=True, nullable=True),
    Setting("early_stopping_patience", "int", 50, "stop after this many epochs without a better validation "
            "loss; null disables", minimum=1, nullable=True),
    Setting("early_stopping_min_delta", "float", 0.0, "an improvement smaller than this does not count",
            minimum=0),
    Setting("train_shift_scale", "bool", False, "also optimise the per-species energy shifts and scales "
            "(they are always initialised from the training data)"),
    Setting("init_model", "str", None, "start from the weights of this model file (a path or a shipped "
            "model's name): further training or fine-tuning. The `model` section must describe the same "
            "architecture (all keys but `seed`, `dtype`, `coulomb_method`, `coulomb_accuracy` and "
            "`avg_num_neighbors`, which comes from the file); the file's energy shifts and scales are kept",
            nullable=True),
])

OUTPUT_SCHEMA = Schema("'output' section", label_format="output.{}", settings=[
    Setting("directory", "str", "run", "run directory: `config.yaml`, `split.json`, `checkpoint.pt`, "
            "`best.pt`, `metrics.jsonl`, `learning_curves.png`"),
    Setting("progress_bar", "bool", True, "a tqdm bar per epoch (only on a terminal)"),
    Setting("plot", "bool", True, "write `learning_curves.png` at the end"),
])

SCHEMAS = {"data": DATA_SCHEMA, "training": TRAINING_SCHEMA, "output": OUTPUT_SCHEMA}
DEFAULTS = {name: {s.name: (None if s.default is REQUIRED else s.default) for s in schema}
            for name, schema in SCHEMAS.items()}
"""Every key of the data, training and output sections with its default (``data.path``: None)."""
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
    given = {section: config.get(section) or {} for section in SECTIONS}
    if not given["model"] or not isinstance(given["model"], dict):
        raise ConfigError("section 'model' lacks required key(s): species, cutoff")
    resolved = {"model": _resolve_model_section(given["model"])}
    for section, schema in SCHEMAS.items():
        resolved[section] = schema.resolve(given[section])
    data = resolved["data"]
    if data["split_file"] is not None and "split_fractions" in given["data"]:
        raise ConfigError("data.split_file and data.split_fractions are exclusive: give one of them")
    for key in ("total_charge_key", "fragment_charge_keys"):
        if isinstance(data[key], tuple):
            data[key] = list(data[key])
    if data["fragment_key"] and not data["fragment_charge_keys"]:
        raise ConfigError("data.fragment_key needs data.fragment_charge_keys: the info key(s) of the "
                          "fragments' total charges")
    data["split_fractions"] = [float(f) for f in data["split_fractions"]]
    weights = ("energy_weight", "forces_weight", "stress_weight", "charges_weight")
    if not any(resolved["training"][key] > 0 for key in weights):
        raise ConfigError("training: every loss weight is 0; give at least one a positive value")
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
