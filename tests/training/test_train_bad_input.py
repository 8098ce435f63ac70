"""Bad configs and bad data are clear errors before any training starts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from lrcalc import ConfigError, InputError
from lrcalc.cli import main
from lrcalc.training.config import DEFAULTS, resolve_training_config
from lrcalc.training.trainer import train


def _train(config):
    return train(config, log=None)


@pytest.mark.parametrize(
    "section, key",
    [("model", "num_layerz"), ("data", "energy_keys"), ("training", "learning_rat"), ("output", "dir")],
)
def test_unknown_key_in_any_section_is_named(tiny_config, section, key):
    tiny_config[section][key] = 1
    with pytest.raises(ConfigError, match=key):
        _train(tiny_config)


def test_unknown_section_is_named(tiny_config):
    tiny_config["optimiser"] = {"lr": 1}
    with pytest.raises(ConfigError, match="optimiser"):
        _train(tiny_config)


def test_invalid_values_are_named(tiny_config):
    for section, key, value in [
        ("training", "optimizer", "sgd"),
        ("training", "lr_schedule", "step"),
        ("training", "batch_size", 0),
        ("training", "ema_decay", 1.0),
        ("data", "split_fractions", [0.9, 0.2, 0.0]),
        ("model", "cutoff", -1),
    ]:
        config = json.loads(json.dumps(tiny_config))
        config[section][key] = value
        with pytest.raises(ConfigError, match=key):
            _train(config)


def test_unknown_or_unavailable_device(tiny_config):
    with pytest.raises(ConfigError, match="not a torch device"):
        train(tiny_config, device="gpu0", log=None)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            train(tiny_config, device="cuda", log=None)


def test_missing_data_file(tiny_config, tmp_path):
    tiny_config["data"]["path"] = str(tmp_path / "nowhere.extxyz")
    with pytest.raises(InputError, match="nowhere.extxyz.*not found"):
        _train(tiny_config)


def test_species_missing_from_the_config(tiny_config):
    tiny_config["model"]["species"] = ["Cu"]
    with pytest.raises(InputError, match="Ni.*model.species"):
        _train(tiny_config)


def test_frames_without_requested_labels(tiny_config):
    tiny_config["data"]["stress_key"] = "no_such_stress"
    tiny_config["data"]["virial_key"] = None
    tiny_config["training"]["stress_weight"] = 1.0
    with pytest.raises(InputError, match="lack the 'stress' label"):
        _train(tiny_config)


def test_charge_loss_without_charge_labels_or_charge_model(tiny_config):
    tiny_config["training"]["charges_weight"] = 1.0
    with pytest.raises(ConfigError, match="charges_key"):
        _train(tiny_config)
    tiny_config["data"]["charges_key"] = "ref_q"
    with pytest.raises(ConfigError, match="predicts no charges"):
        _train(tiny_config)


def test_split_that_leaves_a_set_empty(tiny_config, tmp_path):
    tiny_config["data"]["split_fractions"] = [0.95, 0.05, 0.0]  # 12 frames: no validation frame
    with pytest.raises(ConfigError, match="val set"):
        _train(tiny_config)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": [0, 1, 2], "val": [], "test": [3]}))
    tiny_config["data"].pop("split_fractions")
    tiny_config["data"]["split_file"] = str(split)
    with pytest.raises(ConfigError, match="val set is empty"):
        _train(tiny_config)
    split.write_text(json.dumps({"train": [0, 1, 2], "val": [2], "test": [99]}))
    with pytest.raises(InputError, match="outside"):
        _train(tiny_config)


def test_existing_run_needs_resume_the_same_config_and_the_same_data(tiny_config, tmp_path):
    data = tmp_path / "data.extxyz"
    data.write_text(Path(tiny_config["data"]["path"]).read_text())
    tiny_config["data"]["path"] = str(data)
    tiny_config["training"]["max_epochs"] = 1
    _train(tiny_config)
    with pytest.raises(ConfigError, match="--resume"):
        _train(tiny_config)
    changed = json.loads(json.dumps(tiny_config))
    changed["training"]["learning_rate"] = 0.5
    with pytest.raises(ConfigError, match="training.learning_rate"):
        train(changed, resume=True, log=None)
    data.write_text(data.read_text().replace("energy=", "energy=1", 1))
    with pytest.raises(InputError, match="changed since the run started"):
        train(tiny_config, resume=True, log=None)


def test_cli_reports_errors_with_exit_code_2(tiny_config, tmp_path, capsys):
    import yaml

    tiny_config["training"]["bogus_key"] = 3
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    assert main(["train", str(path)]) == 2
    assert re.search(r"lrcalc train: error: .*bogus_key", capsys.readouterr().err)
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["evaluate", "example_untrained.pt", str(tmp_path / "missing.extxyz")]) == 2
    assert "lrcalc evaluate: error:" in capsys.readouterr().err


def test_every_config_key_is_documented_with_its_default():
    """The README's tables of the data, training and output keys are printed from the schemas that
    check them, so no key can go undocumented."""
    from pathlib import Path

    from lrcalc.training.config import SCHEMAS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for section, schema in SCHEMAS.items():
        marker = f"<!-- {section} config table -->\n"
        start = readme.index(marker) + len(marker)
        end = readme.index(f"\n<!-- /{section} config table -->")
        assert readme[start:end] == schema.table(), f"regenerate the README's {section} table"
    resolved = resolve_training_config({"model": {"species": ["Cu"], "cutoff": 4.0}, "data": {"path": "x"}})
    assert resolved["model"]["avg_num_neighbors"] == "auto"
    assert resolved["training"] == DEFAULTS["training"]


def test_pbc_override_must_be_three_booleans():
    from lrcalc import ConfigError

    config = {"model": {"species": ["Cu"], "cutoff": 4.0}, "data": {"path": "x", "pbc": [True, "no", False]}}
    with pytest.raises(ConfigError, match="data.pbc must be three booleans or null"):
        resolve_training_config(config)


def test_pbc_override_applies_to_every_frame(tmp_path):
    from ase.build import bulk
    from ase.io import write

    from lrcalc.training.data import read_dataset

    frames = [bulk("Cu", "fcc", a=3.6, cubic=True) for _ in range(2)]
    for f in frames:
        f.info["energy"] = 0.0
    write(tmp_path / "d.extxyz", frames)
    dataset = read_dataset(tmp_path / "d.extxyz", {"pbc": [True, True, False], "energy_key": "energy",
                                                   "forces_key": "forces", "stress_key": "stress",
                                                   "virial_key": "virial", "charges_key": None})
    assert all(tuple(f.pbc) == (True, True, False) for f in dataset.frames)
