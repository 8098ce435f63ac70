"""Madelung constants: Ewald, P3M and PME sums of ideal ionic crystals.

E per ion pair = -M k_e / r0 for unit charges (r0 the nearest-neighbour distance), from the
conventional cubic cells and from primitive (triclinic) cells.
"""

import pytest
import torch
from es_helpers import DTYPE, KE, cesium_chloride, rock_salt

from lrcalc.electrostatics import coulomb_energy

ROCK_SALT = 1.747565  # tabulated to 7 digits (exact 1.74756459463...)
CESIUM_CHLORIDE = 1.762675  # (exact 1.76267477307...)

CRYSTALS = {
    "rock salt, cubic": (lambda: rock_salt(cubic=True), ROCK_SALT),
    "rock salt, primitive fcc": (lambda: rock_salt(cubic=False), ROCK_SALT),
    "CsCl, cubic": (lambda: cesium_chloride(), CESIUM_CHLORIDE),
    "CsCl, triclinic": (lambda: cesium_chloride(triclinic=True), CESIUM_CHLORIDE),
}


def madelung(method, accuracy, system):
    pos, cell, q, r0 = system()
    energy = coulomb_energy(pos, q, cell, method=method, accuracy=accuracy)
    return -float(energy) * r0 / (KE * len(q) / 2)


@pytest.mark.parametrize("name", list(CRYSTALS))
def test_ewald_madelung(name):
    system, reference = CRYSTALS[name]
    assert madelung("ewald", 1e-10, system) == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("method", ["p3m", "pme"])
@pytest.mark.parametrize("name", list(CRYSTALS))
def test_mesh_madelung(name, method):
    system, reference = CRYSTALS[name]
    assert madelung(method, 1e-8, system) == pytest.approx(reference, rel=1e-6)


def test_default_accuracy_madelung():
    """The default accuracy 1e-6 gives the Madelung constant to a few 1e-6."""
    for method in ("auto", "ewald", "p3m", "pme"):
        value = madelung(method, 1e-6, lambda: rock_salt(cubic=False))
        assert value == pytest.approx(ROCK_SALT, rel=1e-5)


def test_wigner_constant_of_charged_cell():
    """One charge in a cubic box with a neutralising background: E = -q² k_e ξ / (2L),
    ξ = 2.837297 (the Wigner / simple-cubic jellium constant)."""
    length = 7.0
    cell = torch.eye(3, dtype=DTYPE) * length
    pos = torch.zeros(1, 3, dtype=DTYPE)
    q = torch.tensor([1.0], dtype=DTYPE)
    for method in ("ewald", "p3m", "pme"):
        energy = coulomb_energy(pos, q, cell, method=method, accuracy=1e-8)
        assert float(energy) == pytest.approx(-KE * 2.837297 / (2 * length), rel=1e-6)
