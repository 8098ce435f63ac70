"""LOREM: long-range message passing with equivariant charges (Rumiantsev, Langer, Sodjargal,
Ceriotti, Loche, arXiv:2507.19382).

A scalar charge cannot say which way a molecule points; LOREM lets every atom carry charges of
every rotation order l ≤ L (C channels each) and sends all of them through the same
rotation-invariant Coulomb kernel, so the potentials they create transform like the charges:

    local block:   [z_i, Q] ──embedding──► Interaction × num_layers ──► h_i
    long-range step t = 1 … T (``num_lr_steps``):
      charges      q̂_i = W_q h_i + B(W_a h_i, W_a h_i)  ∈  C×0e ⊕ C×1o ⊕ C×2e ⊕ … (l ≤ L)
                   q_i = q̂_i − (1/N) Σ_j q̂_j                                               (e)
      potentials   V_i^{clm} = Σ_j Σ_n K_σ(|r_j + n·h − r_i|) q_j^{clm}                    (e/Å)
      update       h_i ← h_i + W_u SiLU( T([h_i, q_i], V_i) )       (T: tensor product → 0e)
    energy:        E_i = s_{Z_i} ε(h_i) + μ_{Z_i}  [ + ½ q_i φ_i ]                         (eV)

with z_i the species one-hot, Q the structure's total charge (e; ``total_charge_input``), W
equivariant linear maps, B a bilinear tensor product (it reaches orders up to 2·``l_max`` of the
features: l = 2 charges from vector features), N the number of atoms of the structure, c the
channel, (l, m) the component, n the periodic images, and

    K_σ(r) = erf(r / 2σ) / r,   K_σ(0) = 1 / (√π σ)                                        (1/Å)

the potential of a Gaussian of width σ (``lorem_sigma``, Å) seen by another one: each (c, l, m)
component is an independent scalar charge channel of :class:`~lrcalc.electrostatics.CoulombOperator`
(one operator per structure, built once per call in float64; by default a direct sum for
molecules, Ewald or P3M for 3-D periodic cells, and the same with the slab correction for slabs). V = φ / k_e, with φ the engine's potential
(eV/e) and k_e = 14.399645 eV·Å/e², keeps the potentials O(1). T contracts the potentials with the
atom's own features and charges into invariants only (``FullyConnectedTensorProduct`` to 0e), so the
update changes the scalar features and the model stays O(3)-equivariant; s_Z and μ_Z are the
per-species energy scale and shift (set from training data).

Every channel is made neutral in each structure (the mean over its atoms, itself an equivariant,
is subtracted). Its potential then needs no neutralising background in periodic cells and does
not depend on the vacuum gap of a slab (the gap the engine picks from the cell would otherwise
enter the stress), and for a molecule it falls off at least as a dipole potential instead of
growing with the size of the molecule.

With ``lorem_coulomb`` a physical term is added: scalar charges q_i = q̃_i + (Q − Σ_j q̃_j)/N from
an invariant output q̃_i of the final features sum exactly to Q, and their Coulomb energy
½ Σ_i q_i φ_i (eV; φ_i in eV/e, same Gaussian width) is split per atom into the atomic energies; the
model then outputs ``charges`` (e). This makes LOREM comparable with, and combinable with, the
charge-equilibration model (:mod:`lrcalc.nn.qeq_model`).
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from ..electrostatics import COULOMB_CONSTANT, CoulombOperator
from ..graph import structures
from .short_range import ShortRangeModel


def natural_irreps(channels: int, l_max: int) -> o3.Irreps:
    """``channels`` copies of every order l ≤ l_max with the parity (−1)^l of a true tensor."""
    return o3.Irreps([(channels, (l, (-1) ** l)) for l in range(l_max + 1)])


def structure_mean(values: torch.Tensor, graph: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over the atoms of each structure, back on its atoms: [N, K] → [N, K]."""
    batch = graph["batch"]
    sums = torch.zeros(
        (graph["num_atoms"].shape[0],) + values.shape[1:], dtype=values.dtype, device=values.device
    ).index_add_(0, batch, values)
    return (sums / graph["num_atoms"].to(values.dtype).unsqueeze(-1))[batch]


class EquivariantCharges(nn.Module):
    """Features h_i → equivariant charges q_i = q̂_i − ⟨q̂⟩, q̂_i = W_q h_i + B(a_i, a_i),
    a_i = W_a h_i (e), with ⟨·⟩ the mean over the atoms of the structure (every channel neutral).

    The linear part gives the orders the features carry; the bilinear part (a_i ⊗ a_i with learned
    path weights) also gives orders up to twice theirs, e.g. l = 2 charges from l = 1 features.
    """

    def __init__(self, irreps_features: o3.Irreps, channels: int, l_max: int):
        super().__init__()
        self.irreps_out = natural_irreps(channels, l_max)
        feature_l_max = max(ir.l for _, ir in irreps_features)
        irreps_factor = natural_irreps(channels, min(l_max, feature_l_max))
        self.linear = o3.Linear(irreps_features, self.irreps_out)
        self.factor = o3.Linear(irreps_features, irreps_factor)
        self.product = o3.FullyConnectedTensorProduct(irreps_factor, irreps_factor, self.irreps_out)

    def forward(self, features: torch.Tensor, graph: dict[str, torch.Tensor]) -> torch.Tensor:
        factor = self.factor(features)
        charges = self.linear(features) + self.product(factor, factor)
        return charges - structure_mean(charges, graph)  # every channel neutral


class StructureCoulomb:
    """One :class:`~lrcalc.electrostatics.CoulombOperator` per structure of a (batched) graph.

    Built once per model call, in float64, with every atom a Gaussian of width ``sigma`` (Å); a
    structure without periodicity is a molecule (direct sum), a 3-D periodic one or a slab is
    summed with its cell. Applying it maps per-atom charge channels [N, K] (e) to potentials
    [N, K] (eV/e) in the dtype of the charges, differentiable with respect to the charges, the
    positions and the cell.
    """

    def __init__(self, graph, positions, cell, sigma: float, method: str, accuracy: float):
        positions, cell = positions.double(), cell.double()
        self.slices, self.operators = [], []
        for _, atoms, pbc, structure_cell in structures(graph, cell):
            structure_positions = positions[atoms]
            widths = torch.full((len(structure_positions),), float(sigma), dtype=torch.float64, device=positions.device)
            self.slices.append(atoms)
            self.operators.append(
                CoulombOperator(structure_positions, structure_cell, pbc, widths, method=method, accuracy=accuracy)
            )

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        q = charges.double()
        phi = torch.cat([operator(q[atoms]) for atoms, operator in zip(self.slices, self.operators)])
        return phi.to(charges.dtype)


class LongRangeStep(nn.Module):
    """One long-range message: charges → potentials → invariant update of the features."""

    def __init__(self, irreps_features: o3.Irreps, channels: int, l_max: int, hidden: int):
        super().__init__()
        self.charges = EquivariantCharges(irreps_features, channels, l_max)
        irreps_charges = self.charges.irreps_out
        self.contraction = o3.FullyConnectedTensorProduct(
            irreps_features + irreps_charges, irreps_charges, o3.Irreps(f"{hidden}x0e")
        )
        self.update = o3.Linear(o3.Irreps(f"{hidden}x0e"), irreps_features)  # fills the 0e part only

    def forward(self, features: torch.Tensor, graph: dict, coulomb: StructureCoulomb) -> torch.Tensor:
        charges = self.charges(features, graph)
        potentials = coulomb(charges) / COULOMB_CONSTANT  # e/Å
        invariants = self.contraction(torch.cat([features, charges], dim=-1), potentials)
        return features + self.update(nn.functional.silu(invariants))


class TotalChargeConstrainedCharges(nn.Module):
    """Scalar charges q_i = q̃_i + (Q − Σ_{j∈b} q̃_j) / N_b (e) that sum exactly to each
    structure's total charge Q, from an invariant output q̃_i of the features."""

    def __init__(self, irreps_features: o3.Irreps):
        super().__init__()
        self.linear = o3.Linear(irreps_features, o3.Irreps("1x0e"))

    def forward(self, features: torch.Tensor, graph: dict[str, torch.Tensor]) -> torch.Tensor:
        """Charges [N] in float64 (e)."""
        raw = self.linear(features).double()
        mean_total = (graph["total_charge"].double() / graph["num_atoms"].double())[graph["batch"]]
        return (raw - structure_mean(raw, graph)).squeeze(-1) + mean_total


class LoremModel(ShortRangeModel):
    """The short-range model's local block (with its embedding, optional total-charge input,
    readout and per-species scale and shift), then ``num_lr_steps`` long-range messages of
    equivariant charges before the readout; see the module docstring and :mod:`lrcalc.config` for
    the hyperparameters."""

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
        num_lr_steps: int,
        lorem_l_max: int,
        lorem_channels: int,
        lorem_sigma: float,
        lorem_coulomb: bool,
        total_charge_input: bool,
        lorem_method: str,
        lorem_accuracy: float,
    ):
        super().__init__(
            species, cutoff, num_layers, l_max, num_features, parity, num_radial_basis,
            radial_mlp_hidden, radial_mlp_layers, polynomial_p, avg_num_neighbors, total_charge_input,
        )
        self.sigma = float(lorem_sigma)
        self.coulomb_method = lorem_method
        self.coulomb_accuracy = float(lorem_accuracy)
        irreps = self.irreps_features
        self.lr_steps = nn.ModuleList(
            LongRangeStep(irreps, lorem_channels, lorem_l_max, num_features) for _ in range(num_lr_steps)
        )
        self.charges = TotalChargeConstrainedCharges(irreps) if lorem_coulomb else None

    def local_features(self, graph, positions, cell) -> torch.Tensor:
        """h_i [N, irreps dim] of the local block, before any long-range step."""
        return self.features(graph, positions, cell)[0]

    def per_atom(self, graph, positions, cell):
        species = graph["species"]
        h = self.local_features(graph, positions, cell)
        coulomb = None
        if len(self.lr_steps) or self.charges is not None:
            coulomb = StructureCoulomb(
                graph, positions, cell, self.sigma, self.coulomb_method, self.coulomb_accuracy
            )
        for step in self.lr_steps:
            h = step(h, graph, coulomb)
        energies = self.energy_scale[species] * self.readout(h) + self.energy_shift[species]
        out = {"atomic_energies": energies}
        if self.charges is not None:
            charges = self.charges(h, graph)  # float64
            potentials = coulomb(charges)  # eV/e
            out["atomic_energies"] = energies + (0.5 * charges * potentials).to(energies.dtype)
            out["charges"] = charges.to(energies.dtype)
            out["electrostatic_potentials"] = potentials.to(energies.dtype)
        return out
