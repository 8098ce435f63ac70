"""Consistency of the summation strategies with each other and with exact limits."""

import dataclasses
import math

import pytest
import torch
from es_helpers import DTYPE, KE, molecule, random_ions, relative_rms

from lrcalc.electrostatics import (
    coulomb_energy,
    electrostatic_potential,
    energy_forces_stress,
    tune,
)


def test_two_gaussian_charges_analytic():
    """E = k_e q1 q2 erf(r/√(2(σ1²+σ2²)))/r + Σ k_e q²/(2√π σ)."""
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.3, 0.4, -0.2]], dtype=DTYPE)
    q = torch.tensor([0.7, -0.4], dtype=DTYPE)
    sigma = torch.tensor([0.8, 1.3], dtype=DTYPE)
    r = float(torch.linalg.norm(pos[1] - pos[0]))
    s = math.sqrt(0.8**2 + 1.3**2)
    expected = KE * (
        0.7 * -0.4 * math.erf(r / (math.sqrt(2) * s)) / r
        + 0.7**2 / (2 * math.sqrt(math.pi) * 0.8)
        + 0.4**2 / (2 * math.sqrt(math.pi) * 1.3)
    )
    assert float(coulomb_energy(pos, q, sigma=sigma)) == pytest.approx(expected, rel=1e-12)
    point = KE * 0.7 * -0.4 / r
    assert float(coulomb_energy(pos, q)) == pytest.approx(point, rel=1e-12)


@pytest.mark.parametrize("use_sigma", [False, True])
@pytest.mark.parametrize("net_charge", [0.0, 1.0])
def test_ewald_independent_of_splitting(use_sigma, net_charge):
    """The Ewald energy does not depend on the splitting width s (neutral and charged)."""
    pos, cell, q = random_ions(16)
    q = q + net_charge / len(q)
    sigma = torch.linspace(0.6, 1.2, len(q), dtype=DTYPE) if use_sigma else None
    base = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-12)
    energies = []
    for smearing in (0.9, 1.3, 2.0):
        params = dataclasses.replace(
            base,
            smearing=smearing,
            cutoff=math.sqrt(2) * 5.0 * max(smearing, 1.7),
            k_max=math.sqrt(2) * 5.0 / smearing,
        )
        energies.append(float(coulomb_energy(pos, q, cell, sigma=sigma, parameters=params)))
    assert energies[1] == pytest.approx(energies[0], rel=1e-10, abs=1e-10)
    assert energies[2] == pytest.approx(energies[0], rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("method", ["p3m", "pme"])
@pytest.mark.parametrize("accuracy", [1e-4, 1e-6])
@pytest.mark.parametrize("use_sigma", [False, True])
def test_mesh_agrees_with_ewald(method, accuracy, use_sigma):
    """Energy, forces and stress of P3M/PME against a 1e-12 Ewald reference.

    The energy agrees within the requested accuracy (relative), the RMS force error is
    below twice it, the stress error below five times it.
    """
    pos, cell, q = random_ions(64, density=0.08, seed=3)
    sigma = torch.where(q > 0, 0.7, 1.0).to(DTYPE) if use_sigma else None
    e_ref, f_ref, s_ref = energy_forces_stress(pos, q, cell, sigma=sigma, method="ewald", accuracy=1e-12)
    e, f, s = energy_forces_stress(pos, q, cell, sigma=sigma, method=method, accuracy=accuracy)
    assert abs(float(e - e_ref)) <= accuracy * abs(float(e_ref))
    assert relative_rms(f, f_ref) <= 2 * accuracy
    assert relative_rms(s, s_ref) <= 5 * accuracy


def test_ewald_at_requested_accuracy():
    pos, cell, q = random_ions(64, density=0.08, seed=3)
    e_ref, f_ref, s_ref = energy_forces_stress(pos, q, cell, method="ewald", accuracy=1e-12)
    e, f, s = energy_forces_stress(pos, q, cell, method="ewald", accuracy=1e-6)
    assert abs(float(e - e_ref)) <= 1e-6 * abs(float(e_ref))
    assert relative_rms(f, f_ref) <= 1e-6
    assert relative_rms(s, s_ref) <= 5e-6


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ewald", "p3m"])
def test_molecule_in_growing_box_tends_to_vacuum(method):
    """A neutral molecule in a periodic box: E(L) -> E_vacuum, error ~ dipole²/L³."""
    pos, q = molecule()
    sigma = torch.full((len(q),), 0.8, dtype=DTYPE)
    e_vacuum = float(coulomb_energy(pos, q, sigma=sigma))
    errors = []
    for length in (15.0, 30.0, 60.0):
        cell = torch.eye(3, dtype=DTYPE) * length
        e = float(coulomb_energy(pos, q, cell, sigma=sigma, method=method, accuracy=1e-8))
        errors.append(abs(e - e_vacuum))
    assert errors[2] < errors[1] < errors[0]
    # the leading error is the dipole-lattice term ∝ 1/L³
    assert errors[2] == pytest.approx(errors[1] / 8, rel=0.1)
    assert errors[2] < 1e-3 * abs(e_vacuum)


def test_multichannel_potential_matches_single_channels():
    pos, cell, q = random_ions(16)
    channels = torch.stack([q, torch.linspace(-1, 1, len(q), dtype=DTYPE), q**2], dim=1)
    for method in ("ewald", "p3m"):
        both = electrostatic_potential(pos, channels, cell, method=method)
        for c in range(3):
            single = electrostatic_potential(pos, channels[:, c], cell, method=method)
            torch.testing.assert_close(both[:, c], single, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell_kind", ["none", "periodic", "slab"])
def test_potential_is_energy_derivative(cell_kind):
    """φ_i = ∂E/∂q_i, also for net-charged systems and slabs."""
    pos, cell, q = random_ions(12)
    q = (q * 0.6 + 0.05).requires_grad_(True)
    sigma = torch.full((len(q),), 0.9, dtype=DTYPE)
    kwargs = {"none": {}, "periodic": {"cell": cell}, "slab": {"cell": cell, "pbc": (True, True, False)}}[
        cell_kind
    ]
    if cell_kind == "slab":
        q = (q.detach() - q.detach().mean()).requires_grad_(True)
    energy = coulomb_energy(pos, q, sigma=sigma, **kwargs)
    (grad,) = torch.autograd.grad(energy, q)
    phi = electrostatic_potential(pos, q.detach(), sigma=sigma, **kwargs)
    torch.testing.assert_close(grad, phi, rtol=1e-10, atol=1e-10)
