"""Each bad input is met with a clear error (never a silently wrong number)."""

from __future__ import annotations

import subprocess
import sys

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


_FAR_ATOM = """
import sys
from lrcalc import InputError, LRCalculator
from lrcalc.structures import benzotriazole
calc = LRCalculator("bta_cu.pt")
for distance in map(float, sys.argv[1:]):
    molecule = benzotriazole()
    molecule.positions[-1] += [0.0, 0.0, distance]
    molecule.calc = calc
    try:
        print(distance, molecule.get_potential_energy(), abs(molecule.get_forces()[-1]).max(), flush=True)
    except InputError as error:
        print(distance, "InputError:", error, flush=True)
"""


def _far_atom_run(tmp_path, *distances):
    """The benzotriazole of the README with its last atom moved up, in a child process: an atom 10⁶ Å
    away used to kill the process inside vesin (SIGFPE, exit 136), which must fail this test, not
    end pytest."""
    run = subprocess.run(
        [sys.executable, "-c", _FAR_ATOM, *map(str, distances)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, f"exit {run.returncode} (-8: SIGFPE in vesin)\n{run.stderr[-2000:]}"
    return [line.split(maxsplit=1)[1] for line in run.stdout.splitlines()]


def test_isolated_far_atom_is_evaluated_in_a_child_process(tmp_path):
    near, far, farther, refused = _far_atom_run(tmp_path, 1e4, 1e6, 1e8, 2e9)
    (e_near, f_near), (e_far, f_far), (e_farther, _) = (map(float, r.split()) for r in (near, far, farther))
    # An isolated atom: only the Coulomb tail (∝ 1/r, ~1e-3 eV at 10⁴ Å) depends on its distance.
    assert abs(e_far - e_near) < 1e-3 and abs(e_farther - e_far) < 1e-5
    assert f_far < 1e-9 and f_near < 1e-6
    assert refused.startswith("InputError: structure: atom 13")
    assert "z = 2e+09 Å, beyond the 1e+09 Å the neighbor search accepts" in refused
