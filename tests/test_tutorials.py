"""Every tutorial runs (at a reduced size) from a clean working directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from structures import REPO

TUTORIALS = sorted((REPO / "tutorials").glob("[0-9][0-9]_*.py"))
QUICK_ARGS = {"01_quickstart.py": []}  # the quick start is small already

pytestmark = pytest.mark.slow  # tens of seconds in all; `-m "not slow"` skips them


def test_tutorials_exist():
    assert {t.name for t in TUTORIALS} >= {"01_quickstart.py", "02_relax_bta_on_cu111.py", "03_langevin_md_interface.py"}


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[t.stem for t in TUTORIALS])
def test_tutorial_runs(tutorial, tmp_path):
    args = QUICK_ARGS.get(tutorial.name, ["--quick"])
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(tutorial), *args], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "Traceback" not in run.stderr
