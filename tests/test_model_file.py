"""Model files: round trip, safety, clear errors, and finding shipped models by name."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

import lrcalc
from lrcalc import LRCalculator, ModelFileError
from lrcalc.model_file import FORMAT, FORMAT_VERSION, shipped_models

from structures import REPO, make_slab


def results(model, atoms):
    atoms = atoms.copy()
    atoms.calc = LRCalculator(model)
    return atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()


def test_save_load_round_trip_gives_identical_results(small_model, tmp_path):
    path = lrcalc.save_model(small_model, tmp_path / "m.pt", metadata={"training_data": "none", "rmse": 1.5})
    loaded = lrcalc.load_model(path)
    assert loaded.config == small_model.config
    assert loaded.metadata["training_data"] == "none" and loaded.metadata["rmse"] == 1.5
    assert loaded.metadata["lrcalc_version"] == lrcalc.__version__
    slab = make_slab()
    e0, f0, s0 = results(small_model, slab)
    e1, f1, s1 = results(loaded, slab)
    assert e0 == e1
    np.testing.assert_array_equal(f0, f1)
    np.testing.assert_array_equal(s0, s1)


class _RunsCode:
    """Unpickling this object creates a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_refused_and_not_run(small_model, tmp_path):
    marker = tmp_path / "code_ran"
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": small_model.config,
        "state_dict": small_model.state_dict(),
        "metadata": {"evil": _RunsCode(marker)},
    }
    path = tmp_path / "evil.pt"
    torch.save(payload, path)
    with pytest.raises(ModelFileError, match=r"evil.pt: refused: the file contains Python objects"):
        lrcalc.load_model(path)
    assert not marker.exists()


def test_truncated_file(small_model, tmp_path):
    good = lrcalc.save_model(small_model, tmp_path / "good.pt")
    data = good.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"truncated.pt: not a readable model file"):
        lrcalc.load_model(bad)


def test_corrupt_file(tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"this is not a model" * 100)
    with pytest.raises(ModelFileError, match=r"corrupt.pt: not a readable model file"):
        lrcalc.load_model(bad)


def test_foreign_torch_file(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match=r"foreign.pt: not an lrcalc model file"):
        lrcalc.load_model(foreign)


def test_newer_format_is_refused(small_model, tmp_path):
    path = tmp_path / "future.pt"
    torch.save(
        {"format": FORMAT, "format_version": FORMAT_VERSION + 1, "config": small_model.config,
         "state_dict": small_model.state_dict(), "metadata": {}},
        path,
    )
    with pytest.raises(ModelFileError, match=rf"future.pt: written in model-file format {FORMAT_VERSION + 1}, newer"):
        lrcalc.load_model(path)


def test_weights_that_do_not_fit_the_config(small_model, tmp_path):
    state = dict(small_model.state_dict())
    state.pop(next(iter(state)))
    path = tmp_path / "mismatch.pt"
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "config": small_model.config,
                "state_dict": state, "metadata": {}}, path)
    with pytest.raises(ModelFileError, match=r"mismatch.pt: the weights do not fit"):
        lrcalc.load_model(path)


def test_missing_file_lists_shipped_models(tmp_path):
    with pytest.raises(ModelFileError, match=r"'nope.pt' not found .*shipped models: .*example_untrained.pt"):
        lrcalc.load_model("nope.pt")


def test_metadata_must_be_plain_data(small_model, tmp_path):
    with pytest.raises(ValueError, match=r"metadata must be JSON-serialisable"):
        lrcalc.save_model(small_model, tmp_path / "m.pt", metadata={"bad": object()})


def test_shipped_model_by_bare_name_from_any_directory(tmp_path, monkeypatch):
    assert "example_untrained.pt" in [p.name for p in shipped_models()]
    monkeypatch.chdir(tmp_path)
    for name in ("example_untrained.pt", "example_untrained"):
        calc = LRCalculator(name)
        assert calc.model.species == ["H", "C", "N", "O", "Cu"]


@pytest.mark.slow
def test_shipped_model_found_after_non_editable_install(tmp_path):
    """Build a wheel, unpack it elsewhere, and load the shipped model by name from another folder."""
    pytest.importorskip("setuptools", minversion="70.1")  # builds wheels without the 'wheel' package
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("lrcalc-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "lrcalc" / "models" / "example_untrained.pt").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import lrcalc; from lrcalc.model_file import resolve_model_path;"
        "print(lrcalc.__file__); print(resolve_model_path('example_untrained.pt'))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert run.returncode == 0, run.stderr
    module_file, model_file = run.stdout.split()
    assert module_file.startswith(str(site)) and model_file.startswith(str(site))


def test_readme_config_table_is_the_schema():
    """The README's table of model config keys is printed from the schema that checks configs."""
    from pathlib import Path

    from lrcalc.config import MODEL_SCHEMA

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("<!-- model config table -->\n") + len("<!-- model config table -->\n")
    end = readme.index("\n<!-- /model config table -->")
    assert readme[start:end] == MODEL_SCHEMA.table(), "regenerate the README table from MODEL_SCHEMA.table()"
