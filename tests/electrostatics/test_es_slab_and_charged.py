"""Slabs (Yeh–Berkowitz) and net-charged periodic cells."""

import dataclasses
import itertools
import math

import pytest
import torch
from es_helpers import DTYPE, molecule

from lrcalc.electrostatics import coulomb_energy, tune

SLAB = (True, True, False)


def slab_system(net=0.0):
    gen = torch.Generator().manual_seed(0)
    length, n = 8.0, 12
    lateral = torch.tensor([[length, 0, 0], [0.3 * length, length, 0], [0, 0, 8.0]], dtype=DTYPE)
    pos = (torch.rand(n, 3, generator=gen, dtype=DTYPE) * torch.tensor([1, 1, 0.5], dtype=DTYPE)) @ lateral
    cell = lateral.clone()
    cell[2, 2] = 30.0  # the third vector of a slab cell is ignored
    q = torch.tensor([1.0, -1.0] * (n // 2), dtype=DTYPE)
    q[0] += 0.3
    q[1] -= 0.3
    q = q + net / n
    sigma = torch.full((n,), 0.8, dtype=DTYPE)
    return pos, cell, q, sigma


@pytest.mark.parametrize("net", [0.0, 1.0])
@pytest.mark.parametrize("method", ["ewald", "p3m", "pme"])
def test_slab_energy_does_not_depend_on_vacuum(method, net):
    """Yeh–Berkowitz alone converges as the vacuum gap grows; with the layer correction the
    energy is the same for every gap from the real-space cutoff up: for neutral and for
    net-charged slabs of Gaussian charges alike."""
    pos, cell, q, sigma = slab_system(net)
    base = tune(pos, cell, SLAB, sigma, method, 1e-8)
    gaps = (base.vacuum, 15.0, 30.0, 60.0)

    def energy(**change):
        return float(coulomb_energy(pos, q, cell, SLAB, sigma, parameters=dataclasses.replace(base, **change)))

    yeh_berkowitz = [energy(vacuum=gap, layer_k_max=None) for gap in gaps]
    changes = [abs(b - a) for a, b in itertools.pairwise(yeh_berkowitz)]
    assert changes[0] > changes[1] > changes[2]
    assert changes[0] > 1e-5 * abs(yeh_berkowitz[-1])  # a gap of r_c alone is not enough
    converged = yeh_berkowitz[-1]  # lateral period 8 Å: image terms ~ e^(-2π·60/8)
    for gap in gaps:
        corrected = energy(vacuum=gap, layer_k_max=math.log(1e9) / gap)
        assert corrected == pytest.approx(converged, rel=1e-8)
    # the default vacuum for the requested accuracy is converged to that accuracy
    default = float(coulomb_energy(pos, q, cell, SLAB, sigma, method=method, accuracy=1e-6))
    assert default == pytest.approx(converged, rel=1e-6)


def test_slab_methods_agree_and_ignore_third_vector():
    pos, cell, q, sigma = slab_system()
    reference = float(coulomb_energy(pos, q, cell, SLAB, sigma, method="ewald", accuracy=1e-8))
    for method in ("p3m", "pme"):
        value = float(coulomb_energy(pos, q, cell, SLAB, sigma, method=method, accuracy=1e-8))
        assert value == pytest.approx(reference, rel=1e-7)
    other = cell.clone()
    other[2] = torch.tensor([3.0, -2.0, 55.0], dtype=DTYPE)
    value = float(coulomb_energy(pos, q, other, SLAB, sigma, method="ewald", accuracy=1e-8))
    assert value == pytest.approx(reference, rel=1e-9)


def test_slab_is_periodic_in_plane():
    """Translating one atom by an in-plane lattice vector leaves the energy unchanged."""
    pos, cell, q, sigma = slab_system()
    e0 = coulomb_energy(pos, q, cell, SLAB, sigma, method="ewald", accuracy=1e-8)
    moved = pos.clone()
    moved[3] += cell[0] - cell[1]
    e1 = coulomb_energy(moved, q, cell, SLAB, sigma, method="ewald", accuracy=1e-8)
    assert float(e1) == pytest.approx(float(e0), rel=1e-8)


def test_molecule_in_growing_slab_tends_to_vacuum():
    """A neutral molecule in a slab cell of growing lateral size: error ∝ 1/L³."""
    pos, q = molecule()
    sigma = torch.full((len(q),), 0.8, dtype=DTYPE)
    e_vacuum = float(coulomb_energy(pos, q, sigma=sigma))
    errors = []
    for length in (10.0, 20.0, 40.0):
        cell = torch.eye(3, dtype=DTYPE) * length
        errors.append(abs(float(coulomb_energy(pos, q, cell, SLAB, sigma, method="p3m")) - e_vacuum))
    assert errors[1] == pytest.approx(errors[0] / 8, rel=0.15)
    assert errors[2] == pytest.approx(errors[1] / 8, rel=0.15)


def test_charged_cell_energy_is_splitting_independent_and_periodic():
    """Net-charged 3-D cell with a neutralising background: Ewald (any split), P3M, PME agree."""
    pos, cell, q, sigma = slab_system(net=0.7)
    cell = cell.clone()
    cell[2, 2] = 9.0
    base = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-10)
    reference = float(coulomb_energy(pos, q, cell, sigma=sigma, parameters=base))
    wide = dataclasses.replace(
        base, smearing=2.2, cutoff=base.cutoff * 2.2 / base.smearing, k_max=base.k_max * base.smearing / 2.2
    )
    assert float(coulomb_energy(pos, q, cell, sigma=sigma, parameters=wide)) == pytest.approx(
        reference, rel=1e-9
    )
    for method in ("p3m", "pme"):
        value = float(coulomb_energy(pos, q, cell, sigma=sigma, method=method, accuracy=1e-8))
        assert value == pytest.approx(reference, rel=1e-7)


def test_charged_slab_runs_and_matches_across_methods():
    """Charged slabs follow the Ballenegger–Arnold–Cerdà convention (documented)."""
    pos, cell, q, sigma = slab_system(net=0.5)
    params = tune(pos, cell, SLAB, sigma, "ewald", 1e-8)
    reference = float(coulomb_energy(pos, q, cell, SLAB, sigma, parameters=params))
    mesh = dataclasses.replace(tune(pos, cell, SLAB, sigma, "p3m", 1e-8), vacuum=params.vacuum)
    assert float(coulomb_energy(pos, q, cell, SLAB, sigma, parameters=mesh)) == pytest.approx(
        reference, rel=1e-7
    )


@pytest.mark.parametrize("method", ["ewald", "p3m"])
def test_charged_slab_forces_are_exact_with_tuned_parameters(method):
    """The gap that tune() picks does not follow the positions, and the energy of a net-charged
    slab does not depend on it anyway: the forces of a call with parameters tuned per geometry
    equal the finite differences of such calls."""
    pos, cell, q, sigma = slab_system(net=1.0)
    params = tune(pos, cell, SLAB, sigma, method, 1e-6)
    moved = pos.clone()
    moved[:, 2] = moved[:, 2] * 1.5  # a thicker slab: the gap stays
    assert tune(moved, cell, SLAB, sigma, method, 1e-6).vacuum == params.vacuum
    positions = pos.clone().requires_grad_(True)
    energy = coulomb_energy(positions, q, cell, SLAB, sigma, method=method, accuracy=1e-6)
    (gradient,) = torch.autograd.grad(energy, positions)
    h = 1e-4
    for i in range(len(pos)):
        plus, minus = pos.clone(), pos.clone()
        plus[i, 2] += h
        minus[i, 2] -= h
        numerical = (
            coulomb_energy(plus, q, cell, SLAB, sigma, method=method, accuracy=1e-6)
            - coulomb_energy(minus, q, cell, SLAB, sigma, method=method, accuracy=1e-6)
        ) / (2 * h)
        assert float(gradient[i, 2]) == pytest.approx(float(numerical), abs=1e-4)
