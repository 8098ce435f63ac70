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
=========================  ===========  ==============================================================

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

    @property
    def species(self) -> torch.Tensor:
        return self.graph["species"]
