"""The ``lrcalc`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrcalc.cli import main
from structures import REPO


def test_info_prints_config_and_metadata(capsys):
    assert main(["info", "example_untrained.pt", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"species": [' in out and '"cutoff": 5.0' in out
    assert "UNTRAINED" in out and "lrcalc_version" in out


def test_info_summarises_a_model_on_one_page(capsys):
    assert main(["info", "bta_cu.pt"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 20
    assert "test RMSE       energy 0.233 meV/atom, forces 17.3 meV/Å" in out
    assert "trained on      total charge 0 to 0 e from info total_charge; pbc (True, True, False)" in out


def test_info_on_a_missing_file_is_a_clear_error(capsys):
    assert main(["info", "does_not_exist.pt"]) == 2
    assert "'does_not_exist.pt' not found" in capsys.readouterr().err


def test_module_entry_point_help():
    run = subprocess.run([sys.executable, "-m", "lrcalc", "info", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "shipped model" in run.stdout


def test_md_command_writes_trajectory_log_and_plot(tmp_path):
    from ase.io import read

    out = tmp_path / "run"
    code = main(["md", "--model", "example_untrained.pt", "--steps", "4", "--interval", "2", "--timestep", "0.5",
                 "--fix-bottom-layers", "1", "--output", str(out), "--no-progress"])
    assert code == 0
    assert len(read(out / "md.traj", ":")) == 3
    assert (out / "md.csv").read_text().count("\n") == 4
    assert (out / "md.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["md", "--model", "example_untrained.pt", "--steps", "2", "--interval", "2", "--output", str(out),
                 "--no-progress", "--restart"]) == 0
    assert len(read(out / "md.traj", ":")) == 4


def test_relax_command_and_its_not_converged_exit_code(tmp_path, capsys):
    from ase.build import molecule
    from ase.io import read, write

    structure = tmp_path / "h2o.extxyz"
    write(structure, molecule("H2O"))
    out = tmp_path / "relaxed"
    assert main(["relax", str(structure), "--model", "example_untrained.pt", "--fmax", "0.01", "--steps", "200",
                 "--output", str(out), "--no-progress"]) == 0
    assert len(read(out / "relaxed.extxyz")) == 3
    assert main(["relax", str(structure), "--model", "example_untrained.pt", "--fmax", "1e-9", "--steps", "1",
                 "--output", str(out), "--no-progress", "--overwrite"]) == 3
    assert "not converged" in capsys.readouterr().out


def test_md_with_a_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["md", "--model", "nope.pt", "--steps", "1", "--output", str(tmp_path), "--no-progress"]) == 2
    assert "'nope.pt' not found" in capsys.readouterr().err


def test_help_teaches():
    for command in ("md", "relax", "train", "evaluate"):
        run = subprocess.run([sys.executable, "-m", "lrcalc", command, "--help"], capture_output=True, text=True)
        assert run.returncode == 0 and "usage: lrcalc " + command in run.stdout


@pytest.mark.slow
def test_models_lists_the_shipped_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "example_untrained.pt" in out and "UNTRAINED" in out and "E meV/atom" in out


def test_info_keys_prints_the_schemas(capsys):
    from lrcalc.cli import main
    from lrcalc.config import MODEL_SCHEMA
    from lrcalc.training.config import TRAINING_SCHEMA

    assert main(["info", "--keys"]) == 0
    out = capsys.readouterr().out
    assert MODEL_SCHEMA.table() in out and TRAINING_SCHEMA.table() in out
    assert main(["info"]) == 2
    assert "lrcalc info: error: give a model file" in capsys.readouterr().err


def test_dtype_option_of_md_and_relax(tmp_path, capsys):
    from ase.build import molecule
    from ase.io import write

    structure = tmp_path / "nh3.extxyz"
    write(structure, molecule("NH3"))
    assert main(["relax", str(structure), "--model", "bta_cu.pt", "--dtype", "float64", "--steps", "1",
                 "--output", str(tmp_path / "r"), "--no-progress"]) in (0, 3)
    assert "evaluated in float64" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["md", "--dtype", "float16"])


def test_pbc_and_charge_overrides_are_printed(tmp_path, capsys):
    from ase.build import molecule
    from ase.io import write

    structure = tmp_path / "nh3.extxyz"
    periodic = molecule("NH3", vacuum=4.0)
    periodic.pbc = True
    write(structure, periodic)
    assert main(["relax", str(structure), "--model", "example_untrained.pt", "--pbc", "F,F,F", "--charge", "1",
                 "--steps", "1", "--output", str(tmp_path / "r"), "--no-progress"]) in (0, 3)
    out = capsys.readouterr().out
    assert "override: pbc=(False, False, False) instead of (True, True, True) (--pbc)" in out
    assert "override: total charge 1 e (--charge)" in out
    with pytest.raises(SystemExit) as exit_:
        main(["relax", str(structure), "--pbc", "T,T"])
    assert exit_.value.code == 2 and "three booleans" in capsys.readouterr().err


@pytest.mark.skipif(not (REPO.parent / "shared" / "data" / "cu_bta").is_dir(), reason="needs ../shared/data")
def test_evaluate_says_which_data_keys_it_applies_and_writes_predictions(tmp_path, capsys):
    import numpy as np
    from ase.io import read

    data = REPO.parent / "shared" / "data" / "cu_bta"
    predictions = tmp_path / "test.extxyz"
    assert main(["evaluate", "bta_cu.pt", str(data / "cu_bta.extxyz"), "--indices",
                 f"{data / 'split.json'}:test", "--output", str(predictions)]) == 0
    out = capsys.readouterr().out
    assert "pbc: [True, True, False] (as the model was trained)" in out
    assert "total_charge_key: 'total_charge' (as the model was trained)" in out
    frames = read(predictions, ":")
    assert len(frames) == 34 and all(tuple(f.pbc) == (True, True, False) for f in frames)
    forces = np.concatenate([f.get_forces() - f.arrays["ref_forces"] for f in frames])
    rmse = 1000 * np.sqrt(np.mean(forces**2))  # the printed force RMSE, meV/Å
    printed = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("forces"))
    assert rmse == pytest.approx(printed, abs=1e-3)


def test_user_mistakes_get_one_line_and_nothing_is_written(tmp_path, capsys):
    """Every mistake: exit status 2, one 'lrcalc <command>: error: …' line, no output folder."""
    from ase import Atoms
    from ase.io import write

    out = tmp_path / "out"
    xenon = tmp_path / "xe.extxyz"
    write(xenon, Atoms("Xe2", positions=[[0, 0, 0], [0, 0, 3.0]]))
    cases = [
        (["md", str(tmp_path / "nonexistent.extxyz")], "structure file"),
        (["md", str(xenon)], "element(s) Xe not known"),
        (["relax", str(xenon)], "element(s) Xe not known"),
        (["md", "--restart"], "--restart: there is no"),
    ]
    for argv, message in cases:
        assert main(argv + ["--output", str(out), "--no-progress", "--steps", "1"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"lrcalc {argv[0]}: error:") and message in err[0], err
        assert not out.exists(), argv


def test_an_existing_output_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    argv = ["md", "--model", "example_untrained.pt", "--steps", "2", "--interval", "1", "--output", str(out),
            "--no-progress"]
    assert main(argv) == 2
    assert "already holds files: give --overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0 and (out / "md.traj").is_file()


def test_an_unavailable_device_is_a_usage_error(capsys):
    import torch

    with pytest.raises(SystemExit) as exit_:
        main(["md", "--device", "gpu7"])
    assert exit_.value.code == 2 and "not a torch device" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as exit_:
            main(["md", "--device", "cuda"])
        assert exit_.value.code == 2 and "CUDA is not available" in capsys.readouterr().err


def test_commands_that_run_a_model_restart_with_the_tuned_allocator(tmp_path):
    """`python -m lrcalc md` restarts itself once with glibc's MALLOC_*_ variables (and says so);
    LRCALC_MALLOC_TUNING=0 opts out, and so does a MALLOC_*_ variable of the user's own."""
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and not k.startswith("LRCALC_")}
    command = [sys.executable, "-m", "lrcalc", "md", "--model", "example_untrained.pt", "--steps", "1",
               "--interval", "1", "--no-progress", "--overwrite", "--output", str(tmp_path / "md")]
    for extra, announced in (({}, True), ({"LRCALC_MALLOC_TUNING": "0"}, False),
                             ({"MALLOC_TOP_PAD_": "1048576"}, False)):
        run = subprocess.run(command, env={**base, **extra}, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert ("allocator: glibc MALLOC_*_ variables set for this run" in run.stdout) == announced, extra


def test_warnings_of_lrcalc_are_one_line_each(tmp_path, capsys):
    import warnings

    from ase.io import write

    from lrcalc.structures import benzotriazole

    structure = tmp_path / "bta.extxyz"
    write(structure, benzotriazole())  # a molecule for a slab model: outside its training domain
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        main(["relax", str(structure), "--steps", "1", "--output", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("lrcalc relax: warning: bta_cu.pt:") for line in err), err
