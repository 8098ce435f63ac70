"""A non-editable install ships every module and the shipped models.

setup.cfg lists no packages: setuptools discovers lrcalc and every folder below it from
``package_dir``, and installs the top-level ``models/`` as ``lrcalc.models``. A hand-written package
list once left ``lrcalc.analysis`` out, which broke ``lrcalc md`` after ``pip install .`` while every
test (run on the editable checkout) passed. This builds the wheel from a copy of the sources and
looks inside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "lrcalc", "models")
MODEL_DATA = ("*.pt", "*.md", "*.json")  # [options.package_data] lrcalc.models


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> dict[str, bytes]:
    """{path: content} of the wheel built from a copy of the sources (.py files: content omitted)."""
    if not all((REPO / name).exists() for name in SOURCES):
        pytest.skip("needs the source checkout (setup.cfg, lrcalc/, models/)")
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy: no build/ or egg-info left in the checkout, no stale build/ read
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("lrcalc-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return {name: b"" if name.endswith((".py", ".pt")) else archive.read(name)
                for name in archive.namelist()}


def test_every_module_is_in_the_wheel(wheel_files):
    modules = sorted(
        path.relative_to(REPO).as_posix()
        for path in (REPO / "lrcalc").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert "lrcalc/analysis/__init__.py" in modules and "lrcalc/__init__.py" in modules
    missing = [module for module in modules if module not in wheel_files]
    assert not missing, f"left out of the wheel: {missing}"


def test_every_package_folder_is_in_the_package_list(monkeypatch):
    """The cheap check, no build: the packages setuptools computes from setup.cfg and pyproject.toml
    include every folder below lrcalc/ that has an __init__.py, and the shipped models."""
    if not (REPO / "setup.cfg").is_file():
        pytest.skip("needs the source checkout")
    Distribution = pytest.importorskip("setuptools.dist", reason="needs setuptools").Distribution
    folders = sorted(
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "lrcalc").rglob("__init__.py")
        if "__pycache__" not in path.parts
    )
    assert "lrcalc.analysis" in folders
    monkeypatch.chdir(REPO)
    dist = Distribution()
    dist.parse_config_files()
    dist.set_defaults()  # the automatic package discovery of a build
    missing = sorted(set(folders + ["lrcalc.models"]) - set(dist.packages or ()))
    assert not missing, f"packages setuptools would not install: {missing}"


def test_shipped_models_are_in_the_wheel_at_lrcalc_models(wheel_files):
    shipped = sorted({path.name for pattern in MODEL_DATA for path in (REPO / "models").glob(pattern)})
    assert "bta_cu.pt" in shipped
    missing = [name for name in shipped if f"lrcalc/models/{name}" not in wheel_files]
    assert not missing, f"shipped model files left out of the wheel: {missing}"


def test_the_wheel_holds_no_tests_or_build_leftovers(wheel_files):
    tops = {name.split("/")[0] for name in wheel_files}
    assert tops == {"lrcalc", next(t for t in tops if t.endswith(".dist-info"))}
    assert not [name for name in wheel_files if "__pycache__" in name or name.endswith(".pyc")]


def test_console_script_entry_point(wheel_files):
    (entry_points,) = [name for name in wheel_files if name.endswith(".dist-info/entry_points.txt")]
    text = wheel_files[entry_points].decode()
    assert "[console_scripts]" in text and "lrcalc = lrcalc.cli:entry" in text


@pytest.mark.skipif("LRCALC_TEST_INSTALLED" not in os.environ, reason="CI's run against the installed wheel")
def test_lrcalc_is_the_installed_wheel():
    """When .ci/run tests the wheel (LRCALC_TEST_INSTALLED = its environment), lrcalc must come from
    there, not from the checkout these tests live in."""
    import lrcalc

    module = Path(lrcalc.__file__).resolve()
    assert Path(os.environ["LRCALC_TEST_INSTALLED"]).resolve() in module.parents, module
    assert REPO not in module.parents
    assert (module.parent / "models" / "bta_cu.pt").is_file()
