"""The local block: species (and total charge) → equivariant features within the cutoff.

    z_i [, Q] ──embedding──► h_i⁰ ──Interaction × L──► h_i^L

with the edge geometry Y(r̂_ij) (spherical harmonics) and e(r_ij) (radial embedding) computed once
and shared by every interaction layer of the model, including those of later stages.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from ..graph import edge_vectors
from .fields import ModelFields
from .interaction import Interaction, hidden_irreps
from .radial import RadialEmbedding


class LocalEnvironment(nn.Module):
    """Edge geometry: spherical harmonics Y(r̂_ij) and radial features e(r_ij)."""

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


class InteractionStack(nn.ModuleList):
    """``num_layers`` interaction blocks chained from ``irreps_in``; declares ``irreps_out``."""

    def __init__(self, irreps_in, num_layers: int, target, irreps_sh, num_species: int,
                 num_radial_basis: int, radial_mlp_hidden: int, radial_mlp_layers: int,
                 avg_num_neighbors: float):
        layers, irreps = [], o3.Irreps(irreps_in)
        for _ in range(num_layers):
            layer = Interaction(irreps, target, irreps_sh, num_species, num_radial_basis,
                                radial_mlp_hidden, radial_mlp_layers, avg_num_neighbors)
            layers.append(layer)
            irreps = layer.irreps_out
        super().__init__(layers)
        self.irreps_out = irreps

    def feed_only_scalars(self) -> None:
        """Declare that the stack's readers take only the scalar (0e) part of its output (an energy
        head, a charge readout): the last layer then computes only the tensor-product paths to
        scalars (2 of 10 at l_max 1 with both parities) and returns zeros elsewhere."""
        if len(self):
            self[-1].scalars_only = True

    def run(self, fields: ModelFields, features: torch.Tensor) -> torch.Tensor:
        for layer in self:
            features = layer(features, fields.onehot, fields.graph["edge_index"], fields.edge_sh,
                             fields.edge_radial)
        return features


class LocalBlock(nn.Module):
    """Writes ``onehot``, ``edge_sh``, ``edge_radial`` and ``features`` (see :mod:`.fields`).

    Args mirror the model config (:mod:`lrcalc.config`); ``total_charge_input`` puts the
    structure's total charge Q (e) next to the species one-hot at the input.
    """

    outputs: tuple[str, ...] = ()

    def __init__(self, num_species: int, cutoff: float, num_layers: int, l_max: int, num_features: int,
                 parity: bool, num_radial_basis: int, radial_mlp_hidden: int, radial_mlp_layers: int,
                 polynomial_p: int, avg_num_neighbors: float, total_charge_input: bool = False):
        super().__init__()
        self.num_species = num_species
        self.total_charge_input = bool(total_charge_input)
        num_inputs = num_species + 1 if self.total_charge_input else num_species
        self.environment = LocalEnvironment(cutoff, l_max, num_radial_basis, polynomial_p)
        self.embedding = o3.Linear(o3.Irreps(f"{num_inputs}x0e"), o3.Irreps(f"{num_features}x0e"))
        # what later stages need to build interaction layers of their own
        self.stack_settings = dict(
            target=hidden_irreps(num_features, l_max, parity), irreps_sh=self.environment.irreps_sh,
            num_species=num_species, num_radial_basis=num_radial_basis,
            radial_mlp_hidden=radial_mlp_hidden, radial_mlp_layers=radial_mlp_layers,
            avg_num_neighbors=avg_num_neighbors,
        )
        self.layers = InteractionStack(o3.Irreps(f"{num_features}x0e"), num_layers, **self.stack_settings)
        self.irreps_out = self.layers.irreps_out

    def forward(self, fields: ModelFields) -> None:
        dtype = fields.dtype
        graph = fields.graph
        fields.onehot = nn.functional.one_hot(graph["species"], self.num_species).to(dtype)
        vectors = edge_vectors(fields.positions, fields.cell, graph)  # float64, Å
        fields.edge_sh, fields.edge_radial = self.environment(vectors.to(dtype))
        inputs = fields.onehot
        if self.total_charge_input:  # Q of the atom's structure (e) next to its species
            total_charge = graph["total_charge"][graph["batch"]].to(dtype).unsqueeze(-1)
            inputs = torch.cat([inputs, total_charge], dim=-1)
        fields.features = self.layers.run(fields, self.embedding(inputs))
