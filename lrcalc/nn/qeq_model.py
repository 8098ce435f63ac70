"""NequIP-LR: equivariant message passing with global charge equilibration (Maruf, Kim, Ahmad,
arXiv:2503.17949).

    block 1:  z_i ──embedding──► Interaction × L₁ ──► h_i ──readout──► χ_i           (eV/e)
    Qeq:      q = argmin_q  Σ_i (χ_i q_i + ½ J_{Z_i} q_i²) + E_coul(q; σ)   s.t. Σ_i q_i = Q
    block 2:  h_i + W·[g(q_i), z_i] ──Interaction × L₂──► readout ──► E_i^short      (eV)
    energy:   E = Σ_i E_i^short + E_Qeq(q),
              E_Qeq = Σ_i e_i,   e_i = χ_i q_i + ½ J_{Z_i} q_i² + ½ q_i φ_i

with learned per-species hardness J_Z > 0 (eV/e²) and Gaussian charge widths σ_Z (Å, initialised
from covalent radii; learned or fixed), φ_i the electrostatic potential of the Gaussian charges
(eV/e) from :mod:`lrcalc.electrostatics` (direct sum, Ewald, PME, or the slab correction, chosen
per structure), Q the structure's total charge (``atoms.info["charge"]``), and g(q) a smooth
embedding of the charge (Gaussians on a charge grid). The charges depend on every atom of the
structure, so the model reaches beyond its cutoff.

Forces are exact although charges come from a solve: at the constrained minimum ∂E/∂q_i equals the
same chemical potential μ for all atoms and Σ_i ∂q_i/∂r = 0, and the solver's implicit gradients
make ∂q/∂r exact. The Coulomb part is always evaluated in float64, whatever the model's dtype.
"""

from __future__ import annotations

import math

import torch
from ase.data import atomic_numbers, covalent_radii
from e3nn import o3
from torch import nn

from ..electrostatics import qeq
from ..graph import edge_vectors, structures
from .base import AtomisticModel
from .interaction import hidden_irreps
from .short_range import LocalEnvironment, ScalarReadout, interaction_stack, run_layers


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


class ChargeEmbedding(nn.Module):
    """g(q): Gaussians of width Δ centered on a uniform grid in [−q_max, q_max] (e)."""

    def __init__(self, size: int, q_max: float):
        super().__init__()
        self.register_buffer("centers", torch.linspace(-q_max, q_max, size))
        self.width = 2.0 * q_max / max(size - 1, 1)

    def forward(self, charges: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * ((charges.unsqueeze(-1) - self.centers) / self.width) ** 2)


class QeqModel(AtomisticModel):
    """Two message-passing blocks around a global charge equilibration; see the module docstring."""

    def __init__(
        self,
        species: list[str],
        cutoff: float,
        num_layers: int,
        num_layers_feedback: int,
        l_max: int,
        num_features: int,
        parity: bool,
        num_radial_basis: int,
        radial_mlp_hidden: int,
        radial_mlp_layers: int,
        polynomial_p: int,
        avg_num_neighbors: float,
        charge_feedback: bool,
        learn_sigma: bool,
        hardness_init: float,
        charge_embedding_size: int,
        charge_embedding_max: float,
        qeq_method: str,
        qeq_accuracy: float,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.charge_feedback = bool(charge_feedback)
        self.qeq_method = qeq_method
        self.qeq_accuracy = float(qeq_accuracy)
        num_species = len(self.species)
        stack = dict(
            target=hidden_irreps(num_features, l_max, parity),
            irreps_sh=o3.Irreps.spherical_harmonics(l_max),
            num_species=num_species,
            num_radial_basis=num_radial_basis,
            radial_mlp_hidden=radial_mlp_hidden,
            radial_mlp_layers=radial_mlp_layers,
            avg_num_neighbors=avg_num_neighbors,
        )
        self.environment = LocalEnvironment(cutoff, l_max, num_radial_basis, polynomial_p)
        self.embedding = o3.Linear(o3.Irreps(f"{num_species}x0e"), o3.Irreps(f"{num_features}x0e"))
        self.charge_layers, irreps = interaction_stack(o3.Irreps(f"{num_features}x0e"), num_layers, **stack)
        self.electronegativity = ScalarReadout(irreps, max(num_features // 2, 1))
        self.electronegativity_shift = nn.Parameter(torch.zeros(num_species))  # eV/e

        hardness = torch.full((num_species,), float(hardness_init))
        self.raw_hardness = nn.Parameter(inverse_softplus(hardness))
        sigma = torch.tensor([covalent_radii[atomic_numbers[s]] for s in self.species])
        if learn_sigma:
            self.raw_sigma = nn.Parameter(inverse_softplus(sigma))
        else:
            self.register_buffer("raw_sigma", inverse_softplus(sigma))

        self.charge_embedding = ChargeEmbedding(charge_embedding_size, charge_embedding_max)
        feedback_in = charge_embedding_size + num_species if self.charge_feedback else num_species
        self.feedback = o3.Linear(o3.Irreps(f"{feedback_in}x0e"), irreps)
        self.energy_layers, irreps = interaction_stack(irreps, num_layers_feedback, **stack)
        self.readout = ScalarReadout(irreps, max(num_features // 2, 1))
        self.energy_scale = nn.Parameter(torch.ones(num_species))
        self.energy_shift = nn.Parameter(torch.zeros(num_species))

    @property
    def hardness(self) -> torch.Tensor:
        """Per-species hardness J_Z (eV/e²), positive by construction."""
        return nn.functional.softplus(self.raw_hardness)

    @property
    def sigma(self) -> torch.Tensor:
        """Per-species Gaussian charge widths σ_Z (Å), positive by construction."""
        return nn.functional.softplus(self.raw_sigma)

    def equilibrate(self, graph, positions, cell, chi, species):
        """Per-structure Qeq: charges [N] (e), potentials [N] (eV/e) and per-atom Qeq energies [N] (eV)."""
        hardness = self.hardness[species].double()
        sigma = self.sigma[species].double()
        chi = chi.double()
        positions = positions.double()
        cell = cell.double()
        # a QeqWarmStart from the calculator (one structure per call): previous charges and adjoint
        warm_start = graph.get("qeq_warm_start") if graph["num_atoms"].shape[0] == 1 else None
        charges, potentials, energies = [], [], []
        for b, atoms, pbc, structure_cell in structures(graph, cell):
            q, energy, info = qeq(
                positions[atoms], chi[atoms], hardness[atoms], sigma[atoms],
                total_charge=float(graph["total_charge"][b]), cell=structure_cell, pbc=pbc,
                method=self.qeq_method, accuracy=self.qeq_accuracy, return_info=True,
                warm_start=warm_start,
            )
            # Per-atom split e_i = χ_i q_i + ½ J_i q_i² + ½ q_i φ_i, shifted uniformly so that it sums
            # to the solver's energy exactly (that energy has exact first and second derivatives;
            # the split differs from it only at the order of the solver's residual).
            split = chi[atoms] * q + 0.5 * hardness[atoms] * q**2 + 0.5 * q * info.potential
            energies.append(split + (energy - split.sum()) / len(q))
            charges.append(q)
            potentials.append(info.potential)
        return torch.cat(charges), torch.cat(potentials), torch.cat(energies)

    def per_atom(self, graph, positions, cell):
        species = graph["species"]
        dtype = positions.dtype
        onehot = nn.functional.one_hot(species, len(self.species)).to(dtype)
        edge_sh, edge_radial = self.environment(edge_vectors(positions, cell, graph))
        h = run_layers(self.charge_layers, self.embedding(onehot), onehot, graph, edge_sh, edge_radial)
        chi = self.electronegativity(h) + self.electronegativity_shift[species]
        charges, potentials, qeq_energies = self.equilibrate(graph, positions, cell, chi, species)
        if self.charge_feedback:
            feedback_in = torch.cat([self.charge_embedding(charges.to(dtype)), onehot], dim=-1)
        else:
            feedback_in = onehot
        h = h + self.feedback(feedback_in)
        h = run_layers(self.energy_layers, h, onehot, graph, edge_sh, edge_radial)
        short_range = self.energy_scale[species] * self.readout(h) + self.energy_shift[species]
        return {
            "atomic_energies": short_range + qeq_energies.to(dtype),
            "charges": charges.to(dtype),
            "electronegativities": chi,
            "electrostatic_potentials": potentials.to(dtype),
        }
