"""The NequIP-LR long-range stage: global charge equilibration (Maruf, Kim, Ahmad, arXiv:2503.17949).

    electronegativity:  χ_i = ε_χ(h_i) + χ⁰_{Z_i}                                           (eV/e)
    Qeq:      q = argmin_q  Σ_i (χ_i q_i + ½ J_{Z_i} q_i²) + E_coul(q; σ)   s.t. Σ_i q_i = Q
    feedback: h_i ← h_i + W·[g(q_i), z_i]  ──Interaction × L₂──► h_i                           
    energy term:  e_i = χ_i q_i + ½ J_{Z_i} q_i² + ½ q_i φ_i                                    (eV)
    in a field:   χ_i → χ_i − E·r_i   (uniform external field E, V/Å; its potential −E·r in V)

with learned per-species hardness J_Z > 0 (eV/e²) and Gaussian charge widths σ_Z (Å, initialised
from covalent radii; learned or fixed), φ_i the electrostatic potential of the Gaussian charges
(eV/e) from :mod:`lrcalc.electrostatics` (direct sum, Ewald, PME, or the slab correction, chosen
per structure), Q the structure's total charge (``atoms.info["charge"]``), and g(q) a smooth
embedding of the charge (Gaussians on a charge grid). The charges depend on every atom of the
structure, so the model reaches beyond its cutoff.

``charge_constraint: fragments`` replaces Σ_i q_i = Q by Σ_{i∈f} q_i = Q_f for every fragment f
(``atoms.info["fragment_charges"]``, ``atoms.arrays["fragment"]``; :mod:`lrcalc.graph`): the global
constraint lets charge flow between molecules however far apart, the textbook failure of Qeq at
dissociation; the fragment constraint allows none between fragments, at any distance. A structure of
one fragment gives exactly the charges of the total constraint.

Forces are exact although charges come from a solve: at the constrained minimum ∂E/∂q_i equals the
same chemical potential μ for all atoms and Σ_i ∂q_i/∂r = 0, and the solver's implicit gradients
make ∂q/∂r exact. The charge solve and the energy term are float64, whatever the network's dtype.
"""

from __future__ import annotations

import torch
from ase.data import atomic_numbers, covalent_radii
from e3nn import o3
from torch import nn

from ..electrostatics import qeq
from ..errors import InputError
from ..graph import structure_fragments, structures
from .fields import ModelFields
from .local import InteractionStack
from .readout import ScalarReadout, readout_width


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


class ChargeEquilibrationStage(nn.Module):
    """Reads ``features``; writes ``charges``, ``electronegativities``, ``electrostatic_potentials``,
    the Qeq energy term, and the features after the charge feedback (see the module docstring)."""

    outputs = ("charges", "electronegativities", "electrostatic_potentials")

    def __init__(self, species: list[str], irreps_in: o3.Irreps, stack_settings: dict, num_features: int,
                 num_layers_feedback: int, charge_feedback: bool, learn_sigma: bool, hardness_init: float,
                 charge_embedding_size: int, charge_embedding_max: float, coulomb_method: str,
                 coulomb_accuracy: float, charge_constraint: str = "total"):
        super().__init__()
        self.charge_constraint = charge_constraint  # "total" or "fragments"
        num_species = len(species)
        self.num_species = num_species
        self.charge_feedback = bool(charge_feedback)
        self.coulomb_method = coulomb_method
        self.coulomb_accuracy = float(coulomb_accuracy)
        self.electronegativity = ScalarReadout(irreps_in, readout_width(num_features))
        self.electronegativity_shift = nn.Parameter(torch.zeros(num_species))  # eV/e
        hardness = torch.full((num_species,), float(hardness_init))
        self.raw_hardness = nn.Parameter(inverse_softplus(hardness))
        sigma = torch.tensor([covalent_radii[atomic_numbers[s]] for s in species])
        if learn_sigma:
            self.raw_sigma = nn.Parameter(inverse_softplus(sigma))
        else:
            self.register_buffer("raw_sigma", inverse_softplus(sigma))
        self.charge_embedding = ChargeEmbedding(charge_embedding_size, charge_embedding_max)
        feedback_in = charge_embedding_size + num_species if self.charge_feedback else num_species
        self.feedback = o3.Linear(o3.Irreps(f"{feedback_in}x0e"), irreps_in)
        self.layers = InteractionStack(irreps_in, num_layers_feedback, **stack_settings)
        self.irreps_out = self.layers.irreps_out

    @property
    def hardness(self) -> torch.Tensor:
        """Per-species hardness J_Z (eV/e²), positive by construction."""
        return nn.functional.softplus(self.raw_hardness)

    @property
    def sigma(self) -> torch.Tensor:
        """Per-species Gaussian charge widths σ_Z (Å), positive by construction."""
        return nn.functional.softplus(self.raw_sigma)

    def fragments(self, graph: dict) -> list | None:
        """``(fragment [n_b], fragment_charges [F_b])`` of each structure with ``charge_constraint:
        fragments`` (checked against the total charges), ``None`` with ``total``.

        Raises:
            InputError: a structure without fragments, or fragment charges that do not add up to the
                structure's total charge.
        """
        if self.charge_constraint != "fragments":
            return None
        fragments = structure_fragments(graph)
        if fragments is None:
            raise InputError(
                "this Qeq model keeps the charge of each fragment (charge_constraint: fragments) and needs "
                "them: set atoms.arrays['fragment'] (the fragment 0, 1, … of every atom) and "
                "atoms.info['fragment_charges'] (the total charge of each fragment, e); for one molecule, "
                "fragment 0 for every atom and [its total charge]")
        for b, (_, fragment_charges) in enumerate(fragments):
            total, summed = float(graph["total_charge"][b]), float(fragment_charges.sum())
            if abs(total - summed) > 1e-6 * max(1.0, abs(total)):
                raise InputError(
                    f"structure {b}: the fragment charges {fragment_charges.tolist()} add up to {summed:g} e "
                    f"but the total charge is {total:g} e (atoms.info['charge'] or the model's charge "
                    "keys): give both consistently")
        return fragments

    def equilibrate(self, fields: ModelFields, chi: torch.Tensor):
        """Per-structure Qeq: charges [N] (e), potentials [N] (eV/e), per-atom Qeq energies [N] (eV)."""
        graph, species = fields.graph, fields.species
        hardness = self.hardness[species].double()
        sigma = self.sigma[species].double()
        options = fields.options
        accuracy = options.coulomb_accuracy if options.coulomb_accuracy is not None else self.coulomb_accuracy
        # the caller's warm start (one structure per call): previous charges and adjoint solutions
        warm_start = options.qeq_warm_start if graph["num_atoms"].shape[0] == 1 else None
        fragments = self.fragments(graph)
        charges, potentials, energies = [], [], []
        for b, atoms, pbc, structure_cell in structures(graph, fields.cell):
            constraint = {} if fragments is None else dict(zip(("fragments", "fragment_charges"), fragments[b]))
            q, energy, info = qeq(
                fields.positions[atoms], chi[atoms], hardness[atoms], sigma[atoms],
                total_charge=float(graph["total_charge"][b]), cell=structure_cell, pbc=pbc,
                method=self.coulomb_method, accuracy=accuracy, return_info=True, warm_start=warm_start,
                **constraint,
            )
            # Per-atom split e_i = χ_i q_i + ½ J_i q_i² + ½ q_i φ_i, shifted uniformly so that it sums
            # to the solver's energy exactly (that energy has exact first and second derivatives;
            # the split differs from it only at the order of the solver's residual). The split is a
            # constant for autograd: every derivative is that of the energy (no per-atom gradients are
            # taken), and the backward pass skips its operations.
            with torch.no_grad():
                split = chi[atoms] * q + 0.5 * hardness[atoms] * q**2 + 0.5 * q * info.potential
                split = split - split.mean()
            energies.append(split + energy / len(q))
            charges.append(q)
            potentials.append(info.potential)
        return torch.cat(charges), torch.cat(potentials), torch.cat(energies)

    def forward(self, fields: ModelFields) -> None:
        h = fields.features
        chi = (self.electronegativity(h) + self.electronegativity_shift[fields.species]).double()
        # A uniform external field E enters as its potential: χ_i → χ_i + φ_ext,i = χ_i − E·r_i, so
        # the charges respond to it and the Qeq energy gains Σ_i q_i φ_ext,i.
        external = fields.external_potential()
        charges, potentials, energies = self.equilibrate(fields, chi if external is None else chi + external)
        if self.charge_feedback:
            feedback_in = torch.cat([self.charge_embedding(charges.to(fields.dtype)), fields.onehot], dim=-1)
        else:
            feedback_in = fields.onehot
        fields.features = self.layers.run(fields, h + self.feedback(feedback_in))
        fields.energy_terms.append(energies)
        fields.outputs.update(charges=charges, electronegativities=chi, electrostatic_potentials=potentials)
