"""Each bad input is met with a clear error (never a silently wrong number)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

import lrcalc
from lrcalc import ConfigError, InputError, LRCalculator

from structures import make_molecule, make_slab


def evaluate(model, atoms):
    atoms.calc = LRCalculator(model)
    return atoms.get_potential_energy()


def test_unknown_element_is_named(small_model):
    atoms = make_molecule()
    atoms[0].symbol = "Fe"
    with pytest.raises(InputError, match=r"Fe not known to this model"):
        evaluate(small_model, atoms)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_positions(small_model, bad):
    atoms = make_molecule()
    atoms.positions[4, 1] = bad
    with pytest.raises(InputError, match=r"non-finite .* atom\(s\) 4 "):
        evaluate(small_model, atoms)


def test_overlapping_atoms_are_named(small_model):
    atoms = make_molecule()
    atoms.positions[5] = atoms.positions[2] + [0.03, 0.0, 0.0]
    with pytest.raises(InputError, match=r"atoms (2|5) \(\w+\) and (5|2) \(\w+\) are 0.0300 Å apart"):
        evaluate(small_model, atoms)


def test_overlap_with_a_periodic_image_is_found(small_model):
    atoms = Atoms("Cu2", positions=[[0.0, 0.0, 0.0], [2.95, 0.0, 0.0]], cell=[3.0, 4.0, 4.0], pbc=True)
    with pytest.raises(InputError, match=r"periodic image"):
        evaluate(small_model, atoms)


def test_pbc_with_zero_volume_cell(small_model):
    atoms = make_molecule()
    atoms.pbc = True  # the molecule has no cell
    with pytest.raises(InputError, match=r"pbc=\(True, True, True\) but the periodic cell vectors are zero"):
        evaluate(small_model, atoms)
    flat = Atoms("Cu", positions=[[0, 0, 0]], cell=[[3, 0, 0], [0, 3, 0], [3, 3, 0]], pbc=True)
    with pytest.raises(InputError, match=r"zero or linearly dependent"):
        evaluate(small_model, flat)


def test_slab_without_in_plane_cell(small_model):
    slab = make_slab()
    slab.cell[1] = 0.0
    with pytest.raises(InputError, match=r"periodic cell vectors are zero"):
        evaluate(small_model, slab)


def test_empty_atoms(small_model):
    with pytest.raises(InputError, match=r"no atoms"):
        evaluate(small_model, Atoms())


def test_nan_cell(small_model):
    slab = make_slab()
    slab.cell[0, 0] = np.nan
    with pytest.raises(InputError, match=r"cell contains NaN"):
        evaluate(small_model, slab)


def test_molecule_has_no_stress(small_model):
    from ase.calculators.calculator import PropertyNotImplementedError

    atoms = make_molecule()
    atoms.calc = LRCalculator(small_model)
    with pytest.raises(PropertyNotImplementedError, match=r"stress needs a periodic cell"):
        atoms.get_stress()


def test_batch_error_names_the_structure(small_model):
    good, bad = make_molecule(), make_molecule()
    bad[1].symbol = "Xe"
    with pytest.raises(InputError, match=r"structure 1 of the batch: element\(s\) Xe"):
        lrcalc.atoms_to_graph([good, bad], small_model.species, small_model.cutoff)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"num_layres": 2}, r"unknown model config key\(s\): num_layres"),
        ({"species": ["Cu", "Qq"]}, r"unknown element symbol"),
        ({"cutoff": -1.0}, r"cutoff"),
        ({"dtype": "float16"}, r"dtype"),
        ({"long_range": "magic"}, r"long_range"),
        ({"l_max": -1}, r"l_max"),
        ({"num_features": 0}, r"num_features"),
    ],
)
def test_bad_config(change, message):
    config = {"species": ["Cu"], "cutoff": 4.0, **change}
    with pytest.raises(ConfigError, match=message):
        lrcalc.build_model(config)


def test_missing_required_config_key():
    with pytest.raises(ConfigError, match=r"lacks required key\(s\): cutoff"):
        lrcalc.build_model({"species": ["Cu"]})


def test_calculator_rejects_other_objects():
    with pytest.raises(TypeError, match=r"needs an lrcalc model"):
        LRCalculator(object())
