"""Radial functions of the interatomic distance r (Å).

The edge embedding is a Bessel basis multiplied by a smooth polynomial envelope,

    e_n(r) = u(r / r_c) · √(2 / r_c) · sin(ω_n r / r_c) / r,   ω_n = nπ initially (learnable),

    u(x) = 1 − (p+1)(p+2)/2 · x^p + p(p+2) · x^(p+1) − p(p+1)/2 · x^(p+2)   for x < 1, else 0,

so that the embedding and its first two derivatives vanish at the cutoff r_c (Klicpera et al.,
DimeNet, 2020). Energies are therefore smooth when atoms enter or leave the neighbor list.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PolynomialEnvelope(nn.Module):
    """u(r/r_c): 1 at r = 0, 0 with vanishing first and second derivative at r = r_c."""

    def __init__(self, cutoff: float, p: int = 6):
        super().__init__()
        self.cutoff = float(cutoff)
        self.p = int(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        x = r / self.cutoff
        p = self.p
        u = (
            1.0
            - (p + 1) * (p + 2) / 2 * x**p
            + p * (p + 2) * x ** (p + 1)
            - p * (p + 1) / 2 * x ** (p + 2)
        )
        return u * (x < 1.0)


class BesselBasis(nn.Module):
    """√(2/r_c) sin(ω_n r/r_c)/r for n = 1..num_basis, with learnable frequencies ω_n = nπ."""

    def __init__(self, cutoff: float, num_basis: int = 8, trainable: bool = True):
        super().__init__()
        self.cutoff = float(cutoff)
        self.prefactor = math.sqrt(2.0 / self.cutoff)
        frequencies = math.pi * torch.arange(1, num_basis + 1, dtype=torch.get_default_dtype())
        if trainable:
            self.frequencies = nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies * r / self.cutoff) / r


class RadialEmbedding(nn.Module):
    """Edge lengths [E] (Å) → envelope-weighted Bessel features [E, num_basis]."""

    def __init__(self, cutoff: float, num_basis: int = 8, polynomial_p: int = 6):
        super().__init__()
        self.basis = BesselBasis(cutoff, num_basis)
        self.envelope = PolynomialEnvelope(cutoff, polynomial_p)
        self.num_basis = num_basis

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.basis(r) * self.envelope(r).unsqueeze(-1)
