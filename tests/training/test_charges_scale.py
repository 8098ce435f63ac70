"""``data.charges_scale``: charge labels stored with the opposite sign convention are flipped as they
are read, and evaluation applies the scale a model was trained with."""

import numpy as np
from ase import Atoms

from lrcalc.training.data import frame_labels
from lrcalc.training.evaluate import data_keys_for


def test_the_scale_multiplies_the_charge_labels():
    atoms = Atoms("NH", positions=[[0, 0, 0], [0, 0, 1.0]])
    atoms.arrays["initial_charges"] = np.array([0.3, -0.3])
    plain = frame_labels(atoms, {"charges_key": "initial_charges"})
    flipped = frame_labels(atoms, {"charges_key": "initial_charges", "charges_scale": -1.0})
    np.testing.assert_array_equal(plain["charges"], [0.3, -0.3])
    np.testing.assert_array_equal(flipped["charges"], [-0.3, 0.3])
    assert frame_labels(atoms, {"charges_key": "initial_charges", "charges_scale": 0.0})["charges"].tolist() == [0, 0]


def test_evaluation_takes_the_scale_the_model_was_trained_with():
    class Model:
        metadata = {"training": {"config": {"data": {"charges_key": "initial_charges", "charges_scale": -1.0}}}}

    keys = data_keys_for(Model())
    assert keys["charges_scale"] == -1.0 and keys["charges_key"] == "initial_charges"
    assert data_keys_for(object())["charges_scale"] == 1.0
