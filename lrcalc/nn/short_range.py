"""The equivariant short-range model (NequIP-style).

    z_i ──embedding──► h_i⁰ ──Interaction × L──► h_i^L ──readout──► ε_i
    E_i = s_{Z_i} · ε_i + μ_{Z_i}                                   (eV)

with per-species scale s and shift μ (set from training data), and E = Σ_i E_i.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from ..graph import edge_vectors
from .base import AtomisticModel
from .interaction import Interaction, hidden_irreps
from .radial import RadialEmbedding


class ScalarReadout(nn.Module):
    """Invariant (0e) features → one number per atom, through a small MLP."""

    def __init__(self, irreps_in: o3.Irreps, hidden: int):
        super().__init__()
        self.to_hidden = o3.Linear(irreps_in, o3.Irreps(f"{hidden}x0e"))
        self.to_output = o3.Linear(o3.Irreps(f"{hidden}x0e"), o3.Irreps("1x0e"))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.to_output(torch.nn.functional.silu(self.to_hidden(features))).squeeze(-1)


class LocalEnvironment(nn.Module):
    """Edge geometry shared by all layers: spherical harmonics Y(r̂_ij) and radial features e(r_ij)."""

    def __init__(self, cutoff: float, l_max: int, num_radial_basis: int, polynomial_p: int):
        super().__init__()
        self.irreps_sh = o3.Irreps.spherical_harmonics(l_max)
        self.spherical_harmonics = o3.SphericalHarmonics(
            self.irreps_sh, normalize=True, normalization="component"
        )
        self.radial = RadialEmbedding(cutoff, num_radial_basis, polynomial_p)

    def forward(self, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = torch.linalg.norm(vectors, dim=-1)
        return self.spherical_harmonics(vectors), self.radial(lengths)


def interaction_stack(irreps_in, num_layers, target, irreps_sh, num_species, num_radial_basis,
                      radial_mlp_hidden, radial_mlp_layers, avg_num_neighbors):
    """``num_layers`` interaction blocks chained from ``irreps_in``; returns (ModuleList, irreps_out)."""
    layers, irreps = [], o3.Irreps(irreps_in)
    for _ in range(num_layers):
        layer = Interaction(irreps, target, irreps_sh, num_species, num_radial_basis,
                            radial_mlp_hidden, radial_mlp_layers, avg_num_neighbors)
        layers.append(layer)
        irreps = layer.irreps_out
    return nn.ModuleList(layers), irreps


def run_layers(layers, h, onehot, graph, edge_sh, edge_radial):
    for layer in layers:
        h = layer(h, onehot, graph["edge_index"], edge_sh, edge_radial)
    return h


class ShortRangeModel(AtomisticModel):
    """NequIP-style message passing within ``cutoff``; see :func:`lrcalc.build_model` for the
    meaning of each hyperparameter."""

    def __init__(
        self,
        species: list[str],
        cutoff: float,
        num_layers: int,
        l_max: int,
        num_features: int,
        parity: bool,
        num_radial_basis: int,
        radial_mlp_hidden: int,
        radial_mlp_layers: int,
        polynomial_p: int,
        avg_num_neighbors: float,
        total_charge_input: bool = False,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.total_charge_input = bool(total_charge_input)
        num_species = len(self.species)
        num_inputs = num_species + 1 if self.total_charge_input else num_species
        self.environment = LocalEnvironment(cutoff, l_max, num_radial_basis, polynomial_p)
        self.embedding = o3.Linear(o3.Irreps(f"{num_inputs}x0e"), o3.Irreps(f"{num_features}x0e"))
        self.layers, irreps = interaction_stack(
            o3.Irreps(f"{num_features}x0e"),
            num_layers,
            hidden_irreps(num_features, l_max, parity),
            self.environment.irreps_sh,
            num_species,
            num_radial_basis,
            radial_mlp_hidden,
            radial_mlp_layers,
            avg_num_neighbors,
        )
        self.irreps_features = irreps
        self.readout = ScalarReadout(irreps, max(num_features // 2, 1))
        self.energy_scale = nn.Parameter(torch.ones(num_species))
        self.energy_shift = nn.Parameter(torch.zeros(num_species))

    def features(self, graph, positions, cell) -> tuple[torch.Tensor, torch.Tensor]:
        """Final equivariant node features [N, irreps_dim] and the species one-hot [N, S]."""
        species = graph["species"]
        onehot = torch.nn.functional.one_hot(species, len(self.species)).to(positions.dtype)
        edge_sh, edge_radial = self.environment(edge_vectors(positions, cell, graph))
        inputs = onehot
        if self.total_charge_input:  # Q of the atom's structure (e) next to its species
            total_charge = graph["total_charge"][graph["batch"]].to(onehot.dtype).unsqueeze(-1)
            inputs = torch.cat([onehot, total_charge], dim=-1)
        h = run_layers(self.layers, self.embedding(inputs), onehot, graph, edge_sh, edge_radial)
        return h, onehot

    def per_atom(self, graph, positions, cell):
        h, _ = self.features(graph, positions, cell)
        species = graph["species"]
        energies = self.energy_scale[species] * self.readout(h) + self.energy_shift[species]
        return {"atomic_energies": energies}
