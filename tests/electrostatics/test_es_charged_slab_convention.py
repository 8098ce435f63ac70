"""A net-charged slab's energy is a function of its structure: not of the vacuum gap that the
accuracy setting picks, and converging steadily as the accuracy tightens (issue 16)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_es_slab_and_charged import SLAB, slab_system

import lrcalc
from lrcalc.electrostatics import coulomb_energy, tune

ACCURACIES = [1e-3, 1e-4, 1e-6, 1e-8]


@pytest.mark.parametrize("method", ["ewald", "p3m"])
def test_the_energy_converges_steadily_as_the_accuracy_tightens(method):
    pos, cell, q, sigma = slab_system(net=1.0)
    reference = float(coulomb_energy(pos, q, cell, SLAB, sigma, method="ewald", accuracy=1e-12))
    errors = [abs(float(coulomb_energy(pos, q, cell, SLAB, sigma, method=method, accuracy=accuracy))
                  - reference) for accuracy in ACCURACIES]
    assert errors[-1] < 1e-6 * abs(reference)
    for accuracy, error in zip(ACCURACIES, errors):
        assert error <= 10 * accuracy * abs(reference), (accuracy, error)
    # monotonic up to the last setting's own error
    assert all(later <= earlier + errors[-1] for earlier, later in zip(errors, errors[1:])), errors


def test_gaussian_widths_do_not_make_the_charged_energy_depend_on_the_gap():
    """The padded 3-D sum of Gaussian charges plus the slab correction is independent of the padded
    height; before, a σ² term left E∞ − 2πk_e QΣqσ²/(A L) (measured: exactly that, for σ 0.3 and 0.9)."""
    pos, cell, q, sigma = slab_system(net=1.0)
    for width in (0.3, 0.9):
        widths = torch.full_like(sigma, width)
        base = tune(pos, cell, SLAB, widths, "ewald", 1e-10)
        energies = [float(coulomb_energy(pos, q, cell, SLAB, widths,
                                         parameters=dataclasses.replace(base, vacuum=base.vacuum + extra)))
                    for extra in (0.0, 10.0, 40.0)]
        assert max(energies) - min(energies) < 1e-9 * abs(energies[0]), energies


def test_a_qeq_model_on_a_charged_slab_converges_with_the_accuracy():
    """The issue's observation, at the model level: the energy of a charged slab no longer jumps
    between accuracy settings (before: 58.7027, 58.7235, 58.6582, 58.6703 eV)."""
    from model_fixtures import SMALL_CONFIG, randomise_output_layers
    from structures import make_slab

    model = randomise_output_layers(lrcalc.build_model({**SMALL_CONFIG, "long_range": "qeq"}))
    atoms = make_slab()
    atoms.info["charge"] = 1.0
    energies = []
    for accuracy in ACCURACIES + [1e-10]:
        atoms.calc = lrcalc.LRCalculator(model, coulomb_accuracy=accuracy)
        energies.append(atoms.get_potential_energy())
    errors = np.abs(np.array(energies[:-1]) - energies[-1])
    assert errors[-1] < 1e-6
    assert errors[0] < 1e-2, errors
    assert all(later <= earlier + errors[-1] for earlier, later in zip(errors, errors[1:])), errors
