"""The LOREM long-range stage: message passing with equivariant charges (Rumiantsev, Langer,
Sodjargal, Ceriotti, Loche, arXiv:2507.19382).

A scalar charge cannot say which way a molecule points; LOREM lets every atom carry charges of
every rotation order l ≤ L (C channels each) and sends all of them through the same
rotation-invariant Coulomb kernel, so the potentials they create transform like the charges.
For t = 1 … T (``num_lr_steps``):

    charges      q̂_i = W_q h_i + B(W_a h_i, W_a h_i)  ∈  C×0e ⊕ C×1o ⊕ C×2e ⊕ … (l ≤ L)
                 q_i = q̂_i − (1/N) Σ_j q̂_j                                               (e)
    potentials   V_i^{clm} = Σ_j Σ_n K_σ(|r_j + n·h − r_i|) q_j^{clm}                    (e/Å)
    update       h_i ← h_i + W_u SiLU( T([h_i, q_i], V_i) )       (T: tensor product → 0e)

with W equivariant linear maps, B a bilinear tensor product (it reaches orders up to 2·``l_max`` of
the features: l = 2 charges from vector features), N the number of atoms of the structure, c the
channel, (l, m) the component, n the periodic images, and

    K_σ(r) = erf(r / 2σ) / r,   K_σ(0) = 1 / (√π σ)                                        (1/Å)

the potential of a Gaussian of width σ (``lorem_sigma``, Å) seen by another one: each (c, l, m)
component is an independent scalar charge channel of :class:`~lrcalc.electrostatics.CoulombOperator`
(one operator per structure, built once per call in float64). V = φ / k_e, with φ the engine's
potential (eV/e) and k_e = 14.399645 eV·Å/e², keeps the potentials O(1). T contracts the potentials
with the atom's own features and charges into invariants only, so the update changes the scalar
features and the model stays O(3)-equivariant.

Every channel is made neutral in each structure (the mean over its atoms, itself an equivariant,
is subtracted). Its potential then needs no neutralising background in periodic cells and does
not depend on the vacuum gap of a slab, and for a molecule it falls off at least as a dipole
potential instead of growing with the size of the molecule.

:class:`CoulombChargeTerm` (``lorem_coulomb``) adds a physical term: scalar charges
q_i = q̃_i + (Q − Σ_j q̃_j)/N from an invariant output q̃_i of the final features sum exactly to Q,
and their Coulomb energy ½ Σ_i q_i φ_i (eV; same Gaussian width) is split per atom.

A uniform external field E (V/Å) adds its potential φ_ext = −E·r to the potentials of the scalar
(0e) charge channels, measured from the structure's mean position so that the learned update stays
translation invariant (the channels are neutral, so for them only differences of φ_ext matter),
and, with ``lorem_coulomb``, the energy Σ_i q_i φ_ext(r_i) of the scalar charges (from the origin:
a charged structure feels the force Q·E). A LOREM model without ``lorem_coulomb`` responds to a
field only through what it learned; models are trained at zero field.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn

from ..electrostatics import COULOMB_CONSTANT, CoulombOperator
from ..graph import structures
from .fields import ModelFields


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
            widths = torch.full((len(structure_positions),), float(sigma), dtype=torch.float64,
                                device=positions.device)
            self.slices.append(atoms)
            self.operators.append(
                CoulombOperator(structure_positions, structure_cell, pbc, widths, method=method, accuracy=accuracy)
            )

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        q = charges.double()
        phi = torch.cat([operator(q[atoms]) for atoms, operator in zip(self.slices, self.operators)])
        return phi.to(charges.dtype)


def structure_coulomb(fields: ModelFields, sigma: float, method: str, accuracy: float) -> StructureCoulomb:
    """The call's :class:`StructureCoulomb` for these settings, built once and shared by the stages."""
    options = fields.options
    if options.coulomb_accuracy is not None:
        accuracy = options.coulomb_accuracy
    key = ("coulomb", float(sigma), method, float(accuracy))
    if key not in fields.cache:
        fields.cache[key] = StructureCoulomb(fields.graph, fields.positions, fields.cell, sigma, method, accuracy)
    return fields.cache[key]


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

    def forward(self, features: torch.Tensor, graph: dict, coulomb: StructureCoulomb,
                external_potential: torch.Tensor | None = None) -> torch.Tensor:
        charges = self.charges(features, graph)
        potentials = coulomb(charges) / COULOMB_CONSTANT  # e/Å
        if external_potential is not None:  # the uniform field's potential on the scalar (0e) channels
            scalar = self.charges.irreps_out[0].mul
            shift = (external_potential / COULOMB_CONSTANT).to(potentials.dtype).unsqueeze(-1)
            potentials = torch.cat([potentials[:, :scalar] + shift, potentials[:, scalar:]], dim=-1)
        invariants = self.contraction(torch.cat([features, charges], dim=-1), potentials)
        return features + self.update(nn.functional.silu(invariants))


class EquivariantChargeStage(nn.Module):
    """``num_lr_steps`` long-range messages; reads and rewrites ``features``."""

    outputs: tuple[str, ...] = ()

    def __init__(self, irreps_features: o3.Irreps, num_features: int, num_lr_steps: int, lorem_l_max: int,
                 lorem_channels: int, lorem_sigma: float, coulomb_method: str, coulomb_accuracy: float):
        super().__init__()
        self.sigma = float(lorem_sigma)
        self.coulomb_method = coulomb_method
        self.coulomb_accuracy = float(coulomb_accuracy)
        self.steps = nn.ModuleList(
            LongRangeStep(irreps_features, lorem_channels, lorem_l_max, num_features) for _ in range(num_lr_steps)
        )
        self.irreps_out = irreps_features

    def coulomb(self, fields: ModelFields) -> StructureCoulomb:
        return structure_coulomb(fields, self.sigma, self.coulomb_method, self.coulomb_accuracy)

    def forward(self, fields: ModelFields) -> None:
        if not len(self.steps):
            return
        coulomb = self.coulomb(fields)
        external = fields.external_potential(centered=True)
        h = fields.features
        for step in self.steps:
            h = step(h, fields.graph, coulomb, external)
        fields.features = h


class CoulombChargeTerm(nn.Module):
    """Scalar charges q_i = q̃_i + (Q − Σ_{j∈b} q̃_j) / N_b (e) that sum exactly to each structure's
    total charge Q, from an invariant output q̃_i of the final features, and their Coulomb energy
    ½ q_i φ_i per atom (eV). Writes ``charges`` and ``electrostatic_potentials`` (float64)."""

    outputs = ("charges", "electrostatic_potentials")

    def __init__(self, irreps_features: o3.Irreps, sigma: float, coulomb_method: str, coulomb_accuracy: float):
        super().__init__()
        self.linear = o3.Linear(irreps_features, o3.Irreps("1x0e"))
        self.sigma = float(sigma)
        self.coulomb_method = coulomb_method
        self.coulomb_accuracy = float(coulomb_accuracy)

    def charges(self, features: torch.Tensor, graph: dict[str, torch.Tensor]) -> torch.Tensor:
        """Charges [N] in float64 (e)."""
        raw = self.linear(features).double()
        mean_total = (graph["total_charge"].double() / graph["num_atoms"].double())[graph["batch"]]
        return (raw - structure_mean(raw, graph)).squeeze(-1) + mean_total

    def forward(self, fields: ModelFields) -> None:
        charges = self.charges(fields.features, fields.graph)
        coulomb = structure_coulomb(fields, self.sigma, self.coulomb_method, self.coulomb_accuracy)
        potentials = coulomb(charges)  # eV/e
        energy = 0.5 * charges * potentials
        external = fields.external_potential()
        if external is not None:  # a charge in the field's potential: q_i φ_ext,i = −q_i E·r_i
            energy = energy + charges * external
        fields.energy_terms.append(energy)
        fields.outputs.update(charges=charges, electrostatic_potentials=potentials)
