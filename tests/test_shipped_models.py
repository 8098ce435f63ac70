"""Every shipped model gives the energies, forces, stress and charges recorded before the model of
stages replaced the three model classes (``tests/data/shipped_reference.json``, written by
``tests/data/make_shipped_reference.py`` from the code of format-1 model files)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import lrcalc
from lrcalc.model_file import read_model_file, shipped_models

REFERENCE = json.loads((Path(__file__).parent / "data" / "shipped_reference.json").read_text())

_spec = importlib.util.spec_from_file_location(
    "make_shipped_reference", Path(__file__).parent / "data" / "make_shipped_reference.py")
_maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_maker)

pytestmark = pytest.mark.slow  # tens of seconds in all; `-m "not slow"` skips them


def test_every_shipped_model_has_a_reference():
    assert sorted(p.name for p in shipped_models()) == sorted(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_shipped_model_reproduces_its_recorded_results(name):
    model = lrcalc.load_model(name)
    # float64 networks agree to round-off; float32 ones to float32 round-off of the network
    # (the geometry is now float64 and the shifts are added in float64)
    force_tol = 1e-6 if model.dtype.is_floating_point and model.config["dtype"] == "float64" else 2e-4
    for structure, expected in REFERENCE[name].items():
        result = _maker.evaluate_one(name, structure)
        assert result["energy"] == pytest.approx(expected["energy"], rel=1e-6, abs=1e-6), structure
        scale = max(np.abs(expected["forces"]).max(), 1.0)
        np.testing.assert_allclose(result["forces"], expected["forces"], rtol=0, atol=force_tol * scale,
                                   err_msg=f"{name} {structure}")
        if "stress" in expected:
            np.testing.assert_allclose(result["stress"], expected["stress"], rtol=0, atol=1e-6)
        if "charges" in expected:
            np.testing.assert_allclose(result["charges"], expected["charges"], rtol=0, atol=1e-5)


def test_format_1_files_are_converted_on_load():
    """Shipped files written before the model of stages are format 1 (three model classes; models
    retrained since are format 2); they load into the model of stages."""
    _, payload = read_model_file("dimers_qeq.pt")
    assert payload["format_version"] == 1 and "raw_hardness" in payload["state_dict"]
    model = lrcalc.load_model("dimers_qeq.pt")
    assert model.config["coulomb_accuracy"] == payload["config"]["qeq_accuracy"]
    assert "qeq_accuracy" not in model.config
    assert model.outputs[-3:] == ("charges", "electronegativities", "electrostatic_potentials")
