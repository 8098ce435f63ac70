"""Data-parallel training: two processes (gloo, CPU; launched by torchrun or by ``lrcalc train
--processes 2``) give the result of one process at the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import yaml

import lrcalc
from lrcalc.training.trainer import load_checkpoint, train


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "lrcalc",
            "train", "{config}", "--no-progress"]
PROCESSES_OPTION = [sys.executable, "-m", "lrcalc", "train", "{config}", "--processes", "2", "--no-progress"]


@pytest.mark.slow
@pytest.mark.parametrize("launch", [TORCHRUN, PROCESSES_OPTION], ids=["torchrun", "processes_option"])
def test_two_processes_match_one(tiny_config, tmp_path, launch):
    # 6 training frames in global batches of 3: one process takes 2 frames and the other 1, so the
    # loss must be normalised by the global counts for the summed gradients to match.
    tiny_config["training"].update(batch_size=3, max_epochs=3, eval_batch_size=2)
    tiny_config["output"]["directory"] = str(tmp_path / "one")
    single = train(tiny_config, log=None)

    tiny_config["output"]["directory"] = str(tmp_path / "two")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config))
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    command = [str(config_path) if part == "{config}" else part for part in launch]
    run = subprocess.run(command, check=False, capture_output=True, text=True, env=environment, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 process(es)" in run.stdout

    one, two = (
        load_checkpoint(tmp_path / "one" / "checkpoint.pt"),
        load_checkpoint(tmp_path / "two" / "checkpoint.pt"),
    )
    assert one["split"] == two["split"] and one["state"]["epoch"] == two["state"]["epoch"] == 3
    for key in one["model"]:
        torch.testing.assert_close(one["model"][key], two["model"][key], rtol=1e-9, atol=1e-11, msg=key)
    for key in one["best_model"]:
        torch.testing.assert_close(one["best_model"][key], two["best_model"][key], rtol=1e-9, atol=1e-11)
    assert two["state"]["best_val_loss"] == pytest.approx(one["state"]["best_val_loss"], rel=1e-9)
    exported = lrcalc.load_model(tmp_path / "two" / "best.pt").metadata["training"]["test_metrics"]
    assert exported["forces"]["rmse"] == pytest.approx(single["test_metrics"]["forces"]["rmse"], rel=1e-9)


def test_processes_option_refuses_nonsense(tiny_config, tmp_path, capsys, monkeypatch):
    from lrcalc.cli import main

    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config))
    assert main(["train", str(config_path), "--processes", "0"]) == 2
    assert "--processes must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", str(config_path), "--processes", "2"]) == 2
    assert "inside a distributed launch" in capsys.readouterr().err


def test_idle_cores_hint():
    from lrcalc.cli.train import idle_cores_hint

    pinned = {"num_threads": 1, "device": "cpu", "batch_size": 4}
    assert "--processes 2" in idle_cores_hint(pinned, None, 2)
    assert "--processes 4" in idle_cores_hint(pinned, None, 16)  # at most one process per structure of a batch
    assert idle_cores_hint(pinned, None, 1) is None
    assert idle_cores_hint({**pinned, "num_threads": None}, None, 8) is None  # torch's default: every core
    assert idle_cores_hint(pinned, "cuda", 8) is None
