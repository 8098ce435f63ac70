"""The energy head: final features → per-atom energies, once for every model.

    E_i = s_{Z_i} · ε(h_i) + μ_{Z_i} + Σ_t e_i^(t)                                      (eV)

with ε a scalar readout of the invariant features, s_Z and μ_Z the per-species scale and shift
(set from the training data), and e^(t) the energy terms of the long-range stages (Qeq energy,
Coulomb energy). The shift and the terms are added in float64: μ_Z is of the order of 10³ eV, and a
float32 sum would round each atomic energy by ~10⁻⁴ eV.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from .fields import ModelFields
from .readout import ScalarReadout, readout_width


class EnergyHead(nn.Module):
    """Returns the atomic energies [N] (eV, float64) from ``features`` and ``energy_terms``."""

    def __init__(self, irreps_in: o3.Irreps, num_species: int, num_features: int):
        super().__init__()
        self.readout = ScalarReadout(irreps_in, readout_width(num_features))
        self.energy_scale = nn.Parameter(torch.ones(num_species))
        self.energy_shift = nn.Parameter(torch.zeros(num_species))

    def forward(self, fields: ModelFields) -> torch.Tensor:
        species = fields.species
        network = (self.energy_scale[species] * self.readout(fields.features)).double()
        energies = network + self.energy_shift[species].double()
        for term in fields.energy_terms:
            energies = energies + term
        return energies
