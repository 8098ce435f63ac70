"""What flows between the stages of a model during one evaluation.

A model (:class:`lrcalc.nn.model.Model`) is a chain of stages; each stage reads named fields of a
:class:`ModelFields` and writes others. The fields, with their shapes and units:

=========================  ===========  ==============================================================
field                      shape        meaning
=========================  ===========  ==============================================================
``graph``                  dict         the input graph (:mod:`lrcalc.graph`)
``positions``              [N, 3]       positions, Å, float64, carrying the strain (stress)
``cell``                   [B, 3, 3]    cells, Å, float64, carrying the strain
``dtype``                  —            the network's float dtype (float32 or float64)
``onehot``                 [N, S]       species one-hot, network dtype
``edge_sh``                [E, sh]      spherical harmonics of the edge directions, network dtype
``edge_radial``            [E, n_rb]    radial embedding of the edge lengths, network dtype
``features``               [N, irreps]  equivariant atom features, network dtype
``energy_terms``           list of [N]  per-atom energy contributions besides the head's, eV, float64
``outputs``                dict         per-atom results (``charges`` e, ``electronegativities``
                                        eV/e, ``electrostatic_potentials`` eV/e), float64
``options``                —            per-call settings of the caller (:class:`EvaluationOptions`)
``electric_field``         [B, 3]       uniform external field E of each structure, V/Å, float64, or
                                        ``None`` (no field); a leaf with ``requires_grad`` when the
                                        caller wants the dipole −∂E/∂E or Born charges
=========================  ===========  ==============================================================

The external field acts through its potential φ_ext(r) = −E·r (V = eV/e): a charge q at r has the
energy q φ_ext(r). An atom of an electrode held at the potential Ψ (V; graph key
``applied_potential`` [N], for Qeq models only) adds −Ψ: the charge it draws from the reservoir
lowers the grand potential by Ψ·q (constant-potential method). :meth:`ModelFields.external_potential`
gives the sum per atom.

Geometry (positions, cell, edge vectors) is float64 whatever the network's dtype: a float32 network
far from the origin would otherwise see edge vectors rounded to ~|r|·6e-8 Å.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class EvaluationOptions:
    """Settings a caller (the calculator) passes to one model evaluation; the model is never changed.

    Attributes:
        coulomb_accuracy: overrides the model's ``coulomb_accuracy`` (relative accuracy of the Coulomb
            sums and of the charge solve); ``None`` keeps the model's.
        qeq_warm_start: a :class:`~lrcalc.electrostatics.QeqWarmStart` owned by the caller, carried
            between calls of one run (used for single-structure graphs only).
    """

    coulomb_accuracy: float | None = None
    qeq_warm_start: object | None = None


@dataclass
class ModelFields:
    """The named fields of one evaluation; see the module docstring."""

    graph: dict
    positions: torch.Tensor
    cell: torch.Tensor
    dtype: torch.dtype
    options: EvaluationOptions
    onehot: torch.Tensor | None = None
    edge_sh: torch.Tensor | None = None
    edge_radial: torch.Tensor | None = None
    features: torch.Tensor | None = None
    energy_terms: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # objects stages share within one call (Coulomb operators)
    electric_field: torch.Tensor | None = None

    def external_potential(self, centered: bool = False) -> torch.Tensor | None:
        """φ_ext,i = −E·r_i − Ψ_i (V = eV/e, [N], float64): the uniform field's potential at each
        atom, from the (strained) positions, and the potential Ψ_i of the atom's electrode (0 for
        other atoms; see the module docstring); ``None`` without either.

        ``centered=True`` measures r from the mean position of each structure instead of the origin:
        a potential that does not change when the structure is translated, for learned couplings that
        must stay translation invariant. The physical energy Σ q_i φ_ext,i uses the origin (a charged
        structure in a field feels the force Q·E).
        """
        applied = self.graph.get("applied_potential")
        if self.electric_field is None:
            return None if applied is None else -applied.double()
        batch = self.graph["batch"]
        r = self.positions.double()
        if centered:
            num_structures = self.electric_field.shape[0]
            sums = torch.zeros(num_structures, 3, dtype=r.dtype, device=r.device).index_add_(0, batch, r)
            r = r - (sums / self.graph["num_atoms"].to(r.dtype).unsqueeze(-1))[batch]
        potential = -(self.electric_field.double()[batch] * r).sum(-1)
        return potential if applied is None else potential - applied.double()

    @property
    def species(self) -> torch.Tensor:
        return self.graph["species"]
