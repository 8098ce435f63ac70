"""Clear errors for invalid input."""

import pytest
import torch
from es_helpers import DTYPE, random_ions

from lrcalc.electrostatics import coulomb_energy, electrostatic_potential


def test_bad_inputs_raise_clear_errors():
    pos, cell, q = random_ions(8)
    with pytest.raises(ValueError, match="unknown method"):
        coulomb_energy(pos, q, cell, method="fmm")
    with pytest.raises(ValueError, match="wire"):
        coulomb_energy(pos, q, cell, pbc=(True, False, False))
    with pytest.raises(ValueError, match="degenerate"):
        coulomb_energy(pos, q, torch.zeros(3, 3, dtype=DTYPE), pbc=(True, True, True))
    flat = cell.clone()
    flat[2] = flat[0] + flat[1]
    with pytest.raises(ValueError, match="degenerate"):
        coulomb_energy(pos, q, flat)
    bad = pos.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        coulomb_energy(bad, q, cell)
    with pytest.raises(ValueError, match="NaN"):
        coulomb_energy(pos, q * float("inf"), cell)
    with pytest.raises(ValueError, match="needs a cell"):
        coulomb_energy(pos, q, None, pbc=(True, True, True))
    with pytest.raises(ValueError, match="only for non-periodic"):
        coulomb_energy(pos, q, cell, method="direct")
    with pytest.raises(ValueError, match="needs periodic"):
        coulomb_energy(pos, q, method="ewald")
    with pytest.raises(ValueError, match="sigma"):
        coulomb_energy(pos, q, cell, sigma=torch.zeros(len(q), dtype=DTYPE))
    with pytest.raises(ValueError, match="shape"):
        electrostatic_potential(pos, q[:-1], cell)
    with pytest.raises(ValueError, match="accuracy"):
        coulomb_energy(pos, q, cell, accuracy=0.5)


@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_unknown_preconditioner_is_named_for_either_solver(solver):
    from lrcalc.electrostatics import qeq

    pos, cell, _ = random_ions(8)
    chi = torch.linspace(-1.0, 1.0, len(pos), dtype=DTYPE)
    hardness = torch.full((len(pos),), 5.0, dtype=DTYPE)
    with pytest.raises(ValueError, match="unknown preconditioner 'multigrid'"):
        qeq(pos, chi, hardness, None, cell=cell, solver=solver, preconditioner="multigrid")
