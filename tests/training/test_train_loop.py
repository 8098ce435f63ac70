"""Training: a tiny model overfits a few frames; an interrupted run resumes exactly; the run directory
holds what it promises; the exported model is a model file that says how it was made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import lrcalc
from lrcalc.training.trainer import load_checkpoint, train


def _records(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def _assert_same_tensors(a: dict, b: dict, atol=0.0):
    assert a.keys() == b.keys()
    for key, value in a.items():
        if atol == 0.0:
            assert torch.equal(value, b[key]), key
        else:
            torch.testing.assert_close(value, b[key], atol=atol, rtol=0, msg=key)


def test_tiny_model_overfits_a_few_frames(tiny_config):
    tiny_config["data"]["split_fractions"] = [0.34, 0.33, 0.33]  # 4 training frames
    tiny_config["training"].update(
        max_epochs=25, batch_size=1, learning_rate=0.02, lr_schedule="none", ema_decay=0.0
    )
    train(tiny_config, log=None)
    records = _records(tiny_config["output"]["directory"])
    assert len(records) == 25
    first, last = records[0]["train_loss"], records[-1]["train_loss"]
    assert last < first / 10, (first, last)


def test_run_directory_and_exported_model(tiny_config, emt_data):
    tiny_config["model"]["dtype"] = "float32"
    tiny_config["output"]["plot"] = True
    tiny_config["training"]["lr_schedule"] = "cosine"
    tiny_config["training"]["optimizer"] = "amsgrad"
    result = train(tiny_config, log=None)
    run = Path(tiny_config["output"]["directory"])
    for name in (
        "config.yaml",
        "split.json",
        "checkpoint.pt",
        "best.pt",
        "metrics.jsonl",
        "learning_curves.png",
    ):
        assert (run / name).is_file(), name
    split = json.loads((run / "split.json").read_text())
    assert sorted(split["train"] + split["val"] + split["test"]) == list(range(12))
    assert [len(split[s]) for s in ("train", "val", "test")] == [6, 3, 3]
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["training"]["optimizer"] == "amsgrad" and saved["training"]["ema_decay"] == 0.9
    records = _records(run)
    assert [r["epoch"] for r in records] == list(range(1, 7))
    assert records[-1]["lr"] < records[0]["lr"]  # cosine annealing

    model = lrcalc.load_model(result["best_model"])
    meta = model.metadata["training"]
    assert meta["dataset"]["sha256"] and meta["dataset"]["path"] == str(Path(emt_data).resolve())
    assert meta["split"] == split and meta["config"]["training"]["max_epochs"] == 6
    assert set(meta["test_metrics"]) == {"energy", "forces", "stress"}
    assert meta["training_time_s"] > 0 and model.metadata["lrcalc_version"] == lrcalc.__version__
    assert model.config["avg_num_neighbors"] == pytest.approx(12.0)  # fcc, 3 Å cutoff: 12 neighbours
    domain = model.metadata["training_domain"]  # what the calculator checks structures against
    assert domain["charge_keys"] == ["total_charge"] and domain["pbc"] == [[True, True, True]]
    assert len(domain["compositions"]) >= 1 and domain["species"] == model.species
    # The shift is the training set's least-squares energy per species.
    assert torch.isfinite(model.energy_shift).all() and float(model.energy_scale.detach()[0]) > 0
    # best.pt holds the EMA weights of the best epoch, which the checkpoint also keeps.
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    _assert_same_tensors({k: v for k, v in model.state_dict().items()}, checkpoint["best_model"])
    assert checkpoint["state"]["best_epoch"] == meta["best_epoch"]


def test_resume_after_a_stop_equals_an_uninterrupted_run(tiny_config, tmp_path):
    tiny_config["output"]["directory"] = str(tmp_path / "whole")
    whole = train(tiny_config, log=None)
    tiny_config["output"]["directory"] = str(tmp_path / "parts")
    first = train(tiny_config, stop_after_epochs=2, log=None)
    assert not first["completed"] and first["epoch"] == 2
    second = train(tiny_config, resume=True, stop_after_epochs=3, log=None)
    assert not second["completed"] and second["epoch"] == 5
    parts = train(tiny_config, resume=True, log=None)
    assert parts["completed"] and parts["epoch"] == 6

    a, b = (
        load_checkpoint(tmp_path / "whole" / "checkpoint.pt"),
        load_checkpoint(tmp_path / "parts" / "checkpoint.pt"),
    )
    _assert_same_tensors(a["model"], b["model"])
    _assert_same_tensors(a["ema"]["shadow"], b["ema"]["shadow"])
    _assert_same_tensors(a["best_model"], b["best_model"])
    assert a["state"] | {"training_time_s": 0} == b["state"] | {"training_time_s": 0}
    assert a["scheduler"] == b["scheduler"]
    for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        _assert_same_tensors(x, y)
    drop_time = lambda records: [{k: v for k, v in r.items() if k != "time_s"} for r in records]
    assert drop_time(_records(tmp_path / "whole")) == drop_time(_records(tmp_path / "parts"))
    assert whole["test_metrics"] == parts["test_metrics"]


def test_resume_restores_the_random_number_generators(tiny_config):
    tiny_config["training"]["max_epochs"] = 1
    torch.manual_seed(123)
    np.random.seed(7)
    train(tiny_config, stop_after_epochs=1, log=None)
    expected = (torch.rand(3), np.random.rand(3))
    torch.manual_seed(999)
    np.random.seed(999)
    train(tiny_config, resume=True, log=None)  # nothing left to train: restores the RNG states only
    torch.testing.assert_close(torch.rand(3), expected[0])
    np.testing.assert_array_equal(np.random.rand(3), expected[1])


@pytest.mark.slow
def test_killed_run_resumed_equals_an_uninterrupted_run(tiny_config, tmp_path):
    """A real kill (SIGKILL of a ``lrcalc train`` process once a checkpoint exists), then ``--resume``."""
    tiny_config["training"]["max_epochs"] = 15
    tiny_config["output"]["directory"] = str(tmp_path / "whole")
    train(tiny_config, log=None)

    tiny_config["output"]["directory"] = str(tmp_path / "killed")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config))
    command = [sys.executable, "-m", "lrcalc", "train", str(config_path), "--no-progress"]
    process = subprocess.Popen(command + ["--resume"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if not checkpoint.exists():
        pytest.fail(f"no checkpoint before the kill: {process.stderr.read().decode()[-2000:]}")
    killed_at = load_checkpoint(checkpoint)["state"]["epoch"]
    assert killed_at < 15, "the run finished before the kill; make it longer"
    train(config_path, resume=True, log=None)  # the resumed run, in this process
    a, b = load_checkpoint(tmp_path / "whole" / "checkpoint.pt"), load_checkpoint(checkpoint)
    assert b["state"]["epoch"] == 15
    _assert_same_tensors(a["model"], b["model"])
    _assert_same_tensors(a["best_model"], b["best_model"])


def test_early_stopping_and_trainable_shifts(tiny_config):
    tiny_config["training"].update(
        max_epochs=10,
        early_stopping_patience=2,
        early_stopping_min_delta=1e6,
        train_shift_scale=True,
        gradient_clip_norm=0.1,
    )
    result = train(tiny_config, log=None)
    # The first epoch sets the best loss; no later one improves by 1e6, so two more epochs end the run.
    assert result["completed"] and result["epoch"] == 3 and result["best_epoch"] == 1
    meta = lrcalc.load_model(result["best_model"]).metadata["training"]
    assert meta["stopped"].startswith("early stopping")
    checkpoint = load_checkpoint(Path(tiny_config["output"]["directory"]) / "checkpoint.pt")
    initial = checkpoint["statistics"]["energy_shifts"]
    shifts = checkpoint["model"]["head.energy_shift"]
    assert not torch.allclose(shifts, torch.tensor([initial["Cu"], initial["Ni"]], dtype=shifts.dtype))


def test_charge_loss_with_a_qeq_model(tiny_config, emt_data):
    """A model that predicts charges (long_range "qeq") trains on reference charges; evaluation then
    reports them, with the charge key the model was trained with."""
    from lrcalc.training import evaluate

    tiny_config["model"].update(long_range="qeq", num_layers_feedback=1)
    tiny_config["data"]["charges_key"] = "ref_q"
    tiny_config["training"].update(charges_weight=1.0, max_epochs=2)
    result = train(tiny_config, log=None)
    records = _records(tiny_config["output"]["directory"])
    assert all(r["train_charges_mse"] > 0 and r["val_charges_rmse"] > 0 for r in records)
    assert set(result["test_metrics"]) == {"energy", "forces", "stress", "charges"}
    evaluated = evaluate(result["best_model"], emt_data)
    assert set(evaluated["metrics"]) == {"energy", "forces", "stress", "charges"}


def test_init_model_continues_from_a_trained_model(tiny_config, tmp_path):
    """``training.init_model`` starts from a model file's weights: the first validation of the new
    run is as good as the end of the first run, unlike a start from random weights; another
    architecture is refused with the keys that differ."""
    import copy

    tiny_config["training"].update(max_epochs=6, lr_schedule="none", ema_decay=0.0)
    train(copy.deepcopy(tiny_config), log=None)
    first_records = _records(tiny_config["output"]["directory"])
    best = Path(tiny_config["output"]["directory"]) / "best.pt"
    trained = lrcalc.load_model(best)

    continued = copy.deepcopy(tiny_config)
    continued["output"]["directory"] = str(tmp_path / "continued")
    continued["training"].update(init_model=str(best), max_epochs=1, learning_rate=1e-9)
    train(continued, log=None)
    records = _records(continued["output"]["directory"])
    assert records[0]["val_loss"] == pytest.approx(min(r["val_loss"] for r in first_records), rel=1e-6)
    assert records[0]["val_loss"] < first_records[0]["val_loss"]
    assert lrcalc.load_model(tmp_path / "continued" / "best.pt").config["avg_num_neighbors"] == trained.config["avg_num_neighbors"]

    other = copy.deepcopy(continued)
    other["output"]["directory"] = str(tmp_path / "other")
    other["model"]["num_features"] = continued["model"].get("num_features", 32) * 2
    with pytest.raises(lrcalc.ConfigError, match="another architecture.*num_features"):
        train(other, log=None)
