"""Forces and stress against central finite differences of the energy.

Parameters are frozen with ``tune`` so that no integer parameter (mesh size, k-vectors,
pair list) changes between the displaced evaluations.
"""

import pytest
import torch
from es_helpers import DTYPE, molecule, random_ions

from lrcalc.electrostatics import coulomb_energy, energy_forces_stress, to_voigt, tune

CASES = {
    "direct": {"pbc": (False, False, False), "method": "direct"},
    "ewald": {"pbc": (True, True, True), "method": "ewald"},
    "p3m": {"pbc": (True, True, True), "method": "p3m"},
    "pme": {"pbc": (True, True, True), "method": "pme"},
    "slab-p3m": {"pbc": (True, True, False), "method": "p3m"},
}


def setup(case):
    pos, cell, q = random_ions(10, density=0.04, seed=2)
    if case == "direct":
        pos, q = molecule(n=8)
        cell = None
    q = q * 0.8 + 0.02  # net-charged except for slabs
    if case.startswith("slab"):
        q = q - q.mean()
    sigma = torch.linspace(0.6, 1.1, len(q), dtype=DTYPE)
    pbc, method = CASES[case]["pbc"], CASES[case]["method"]
    params = tune(pos, cell, pbc, sigma, method, 1e-8)
    return pos, cell, q, sigma, pbc, params


@pytest.mark.parametrize("case", list(CASES))
def test_forces_equal_finite_differences(case):
    pos, cell, q, sigma, pbc, params = setup(case)
    _, forces, _ = energy_forces_stress(pos, q, cell, pbc, sigma, parameters=params)
    h = 1e-5
    for atom, axis in [(0, 0), (3, 1), (7, 2)]:
        plus, minus = pos.clone(), pos.clone()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        e_plus = coulomb_energy(plus, q, cell, pbc, sigma, parameters=params)
        e_minus = coulomb_energy(minus, q, cell, pbc, sigma, parameters=params)
        fd = -float(e_plus - e_minus) / (2 * h)
        assert float(forces[atom, axis]) == pytest.approx(fd, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("case", ["ewald", "p3m", "pme", "slab-p3m"])
def test_stress_equals_strain_finite_differences(case):
    """σ = (1/V) ∂E/∂ε with positions and cell strained together (ASE convention)."""
    pos, cell, q, sigma, pbc, params = setup(case)
    _, _, stress = energy_forces_stress(pos, q, cell, pbc, sigma, parameters=params)
    volume = float(torch.abs(torch.linalg.det(cell)))
    h = 1e-6
    for a, b in [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2)]:
        values = []
        for sign in (1, -1):
            strain = torch.eye(3, dtype=DTYPE)
            strain[a, b] += sign * h / 2
            strain[b, a] += sign * h / 2
            values.append(
                float(coulomb_energy(pos @ strain, q, cell @ strain, pbc, sigma, parameters=params))
            )
        fd = (values[0] - values[1]) / (2 * h) / volume
        assert float(stress[a, b]) == pytest.approx(fd, rel=1e-5, abs=1e-8)
    torch.testing.assert_close(stress, stress.T)
    assert to_voigt(stress).shape == (6,)


def test_sigma_and_charge_gradients_equal_finite_differences():
    pos, cell, q, sigma, pbc, params = setup("p3m")
    sigma = sigma.clone().requires_grad_(True)
    charges = q.clone().requires_grad_(True)
    energy = coulomb_energy(pos, charges, cell, pbc, sigma, parameters=params)
    g_q, g_s = torch.autograd.grad(energy, (charges, sigma))
    h = 1e-6
    for i in (0, 5):
        for tensor, grad in ((q, g_q), (sigma.detach(), g_s)):
            plus, minus = tensor.clone(), tensor.clone()
            plus[i] += h
            minus[i] -= h
            args_p = (plus, sigma.detach()) if tensor is q else (q, plus)
            args_m = (minus, sigma.detach()) if tensor is q else (q, minus)
            fd = (
                float(coulomb_energy(pos, args_p[0], cell, pbc, args_p[1], parameters=params))
                - float(coulomb_energy(pos, args_m[0], cell, pbc, args_m[1], parameters=params))
            ) / (2 * h)
            assert float(grad[i]) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_forces_are_smooth_under_small_cell_changes():
    """With frozen parameters, tiny cell changes give tiny, linear force changes."""
    pos, cell, q, sigma, pbc, params = setup("p3m")
    f = [
        energy_forces_stress(pos * s, q, cell * s, pbc, sigma, parameters=params)[1]
        for s in (1.0, 1.0005, 1.001)
    ]
    d1, d2 = f[1] - f[0], f[2] - f[1]
    assert float(torch.linalg.norm(d2 - d1)) < 0.05 * float(torch.linalg.norm(d1))
