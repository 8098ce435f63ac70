"""The ``lrcalc`` command line."""

from __future__ import annotations

import subprocess
import sys

from lrcalc.cli import main


def test_info_prints_config_and_metadata(capsys):
    assert main(["info", "example_untrained.pt"]) == 0
    out = capsys.readouterr().out
    assert '"species": [' in out and '"cutoff": 5.0' in out
    assert "UNTRAINED" in out and "lrcalc_version" in out


def test_info_on_a_missing_file_is_a_clear_error(capsys):
    assert main(["info", "does_not_exist.pt"]) == 2
    assert "'does_not_exist.pt' not found" in capsys.readouterr().err


def test_module_entry_point_help():
    run = subprocess.run([sys.executable, "-m", "lrcalc", "info", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "shipped model" in run.stdout
