"""The lrcalc model: one class, composed of stages with declared outputs.

    graph ──► LocalBlock ──► [long-range stage] ──► [Coulomb charge term] ──► EnergyHead ──► E_i
                                                                         Σ_i ──► E ──autograd──► F, σ

- :class:`~lrcalc.nn.local.LocalBlock`: species (and total charge) embedding, edge geometry and the
  interaction layers within the cutoff (every model).
- a long-range stage, by ``long_range``: ``"qeq"`` → :class:`~.charge_equilibration.ChargeEquilibrationStage`
  (NequIP-LR: χ → charges → feedback, plus the Qeq energy), ``"lorem"`` →
  :class:`~.equivariant_charges.EquivariantChargeStage` (LOREM: equivariant charges → potentials →
  feedback), ``"none"`` → nothing.
- :class:`~.equivariant_charges.CoulombChargeTerm` (``lorem_coulomb``): scalar charges and their
  Coulomb energy.
- :class:`~lrcalc.nn.energy_head.EnergyHead`: readout, per-species scale and shift, plus the
  stages' energy terms (once, for every model).

The stages exchange named fields (:mod:`lrcalc.nn.fields`); each declares the per-atom results it
adds (``outputs``), and :attr:`AtomisticModel.outputs` collects them, so callers never probe a model.
Forces and stress come by autograd (:mod:`lrcalc.derivatives`); geometry is float64 throughout.
"""

from __future__ import annotations

import torch
from torch import nn

from ..derivatives import apply_strain, forces_stress_and_response
from .charge_equilibration import ChargeEquilibrationStage
from .energy_head import EnergyHead
from .equivariant_charges import CoulombChargeTerm, EquivariantChargeStage
from .fields import EvaluationOptions, ModelFields
from .local import LocalBlock

STRUCTURE_OUTPUTS = ("energy", "atomic_energies", "forces", "stress")


def _is_codegen_constant(key: str) -> bool:
    """e3nn's generated tensor-product modules gain a ``_tensor_constant<k>`` buffer (a fixed
    Wigner-3j block) when they are deep-copied or unpickled; it is rebuilt from the irreps, so it
    is no part of a model's state."""
    return "._tensor_constant" in key


def _drop_codegen_constants(module, state_dict, prefix, *args):
    """A state-dict hook and a load pre-hook (a module-level function: models must pickle)."""
    for key in [k for k in state_dict if k.startswith(prefix) and _is_codegen_constant(k)]:
        del state_dict[key]


def _forgive_missing_codegen_constants(module, incompatible_keys):
    for key in [k for k in incompatible_keys.missing_keys if _is_codegen_constant(k)]:
        incompatible_keys.missing_keys.remove(key)


class AtomisticModel(nn.Module):
    """graph → energy [B] (eV), atomic energies [N] (eV), forces [N, 3] (eV/Å), stress [B, 3, 3]
    (eV/Å³), and the stages' per-atom outputs; built by :func:`lrcalc.build_model`.

    Attributes:
        species: element symbols; ``species[k]`` is species index k of the graph.
        cutoff: neighbor cutoff, Å.
        config: the completed config it was built from; ``metadata``: what its model file says.
    """

    def __init__(self, species: list[str], cutoff: float, local: LocalBlock,
                 long_range: nn.Module | None, coulomb_term: CoulombChargeTerm | None, head: EnergyHead):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.local = local
        self.long_range = long_range
        self.coulomb_term = coulomb_term
        self.head = head
        self.config: dict = {}
        self.metadata: dict = {}
        # the same state dict whether or not the model was deep-copied (EMA, checkpoints)
        self._register_state_dict_hook(_drop_codegen_constants)
        self._register_load_state_dict_pre_hook(_drop_codegen_constants, with_module=True)
        self.register_load_state_dict_post_hook(_forgive_missing_codegen_constants)

    @classmethod
    def from_config(cls, config: dict) -> "AtomisticModel":
        """The stages a resolved config (:func:`lrcalc.config.resolve_config`) asks for."""
        species = config["species"]
        local = LocalBlock(
            len(species), config["cutoff"], config["num_layers"], config["l_max"], config["num_features"],
            config["parity"], config["num_radial_basis"], config["radial_mlp_hidden"],
            config["radial_mlp_layers"], config["polynomial_p"], config["avg_num_neighbors"],
            config.get("total_charge_input", False),
        )
        irreps = local.irreps_out
        long_range = coulomb_term = None
        if config["long_range"] == "qeq":
            long_range = ChargeEquilibrationStage(
                species, irreps, local.stack_settings, config["num_features"], config["num_layers_feedback"],
                config["charge_feedback"], config["learn_sigma"], config["hardness_init"],
                config["charge_embedding_size"], config["charge_embedding_max"], config["coulomb_method"],
                config["coulomb_accuracy"], config.get("charge_constraint", "total"),
            )
        elif config["long_range"] == "lorem":
            long_range = EquivariantChargeStage(
                irreps, config["num_features"], config["num_lr_steps"], config["lorem_l_max"],
                config["lorem_channels"], config["lorem_sigma"], config["coulomb_method"],
                config["coulomb_accuracy"],
            )
            if config["lorem_coulomb"]:
                coulomb_term = CoulombChargeTerm(irreps, config["lorem_sigma"], config["coulomb_method"],
                                                 config["coulomb_accuracy"])
        if long_range is not None:
            irreps = long_range.irreps_out
        head = EnergyHead(irreps, len(species), config["num_features"])
        # The stack right before the head (and the Coulomb term) is read only through its scalars.
        if long_range is None:
            local.layers.feed_only_scalars()
        elif isinstance(long_range, ChargeEquilibrationStage):
            long_range.layers.feed_only_scalars()
        return cls(species, config["cutoff"], local, long_range, coulomb_term, head)

    @property
    def stages(self) -> list[nn.Module]:
        """The stages that run before the energy head, in order."""
        return [s for s in (self.local, self.long_range, self.coulomb_term) if s is not None]

    @property
    def outputs(self) -> tuple[str, ...]:
        """What the model produces: ``energy``, ``atomic_energies``, ``forces``, ``stress`` always,
        then the per-atom outputs its stages declare (``charges`` e, ``electronegativities`` eV/e,
        ``electrostatic_potentials`` eV/e). Callers read this instead of probing the model."""
        names = list(STRUCTURE_OUTPUTS)
        for stage in self.stages:
            names += [name for name in stage.outputs if name not in names]
        return tuple(names)

    @property
    def uses_total_charge(self) -> bool:
        """Whether the structure's total charge changes the result: a Qeq model (charges sum to it),
        a LOREM model with the total-charge input or the Coulomb term, a short-range model with the
        total-charge input."""
        if isinstance(self.long_range, ChargeEquilibrationStage) or self.coulomb_term is not None:
            return True
        return self.local.total_charge_input

    @property
    def dtype(self) -> torch.dtype:
        """The network's float dtype (geometry and electrostatics are float64 regardless)."""
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def energy_scale(self) -> torch.Tensor:
        """Per-species energy scale s_Z of the head (a parameter; training sets it from data)."""
        return self.head.energy_scale

    @property
    def energy_shift(self) -> torch.Tensor:
        """Per-species energy shift μ_Z of the head, eV (a parameter; training sets it from data)."""
        return self.head.energy_shift

    def per_atom(self, graph, positions, cell, options: EvaluationOptions | None = None,
                 electric_field: torch.Tensor | None = None) -> dict:
        """Per-atom outputs: ``atomic_energies`` [N] (eV, float64) and the stages' outputs.

        ``positions`` and ``cell`` must be used instead of ``graph["positions"]``/``graph["cell"]``
        (they carry the strain for the stress); ``electric_field`` [B, 3] (V/Å) likewise, when the
        dipole is wanted as a derivative.
        """
        fields = ModelFields(graph, positions, cell, self.dtype, options or EvaluationOptions(),
                             electric_field=electric_field)
        for stage in self.stages:
            stage(fields)
        return {"atomic_energies": self.head(fields), **fields.outputs}

    def forward(
        self,
        graph: dict[str, torch.Tensor],
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool = False,
        options: EvaluationOptions | None = None,
        compute_dipole: bool = False,
        compute_born_charges: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Energies and their derivatives for a (batched) graph.

        Args:
            graph: from :func:`lrcalc.graph.atoms_to_graph` (geometry in float64 preferred; any float
                dtype is promoted to float64).
            compute_forces: add ``forces`` [N, 3] (eV/Å).
            compute_stress: add ``stress`` [B, 3, 3] (eV/Å³, ASE sign; NaN for structures without
                a cell volume).
            create_graph: keep the autograd graph (training: a loss on energies, forces or stress
                will be differentiated with respect to the weights). Otherwise outputs are detached.
            options: per-call settings of the caller (accuracy override, warm start); the model
                itself is never changed by them.
            compute_dipole: add ``dipole`` [B, 3] = −∂E/∂E_field (e·Å) at the graph's
                ``electric_field`` (V/Å; zero when the graph has none): the dipole including every
                induced response, which differs from Σ q_i r_i when charges feed back into the
                energy.
            compute_born_charges: add ``born_effective_charges`` [N, 3, 3] (e), Z*_{i,αβ} =
                ∂F_{iβ}/∂E_α (three more backward passes).

        Returns:
            ``energy`` [B] (eV), ``atomic_energies`` [N] (eV) and the requested derivatives, plus the
            per-atom outputs of the stages (:attr:`outputs`); all float64.
        """
        with torch.enable_grad():
            leaf_positions, positions, cell, strain = apply_strain(graph, compute_stress)
            field = graph.get("electric_field")
            if compute_dipole or compute_born_charges:
                if field is None:
                    field = positions.new_zeros(graph["num_atoms"].shape[0], 3)
                field = field.detach().to(torch.float64).requires_grad_(True)
            elif field is not None:
                field = field.to(torch.float64)
            out = self.per_atom(graph, positions, cell, options, electric_field=field)
            num_structures = graph["num_atoms"].shape[0]
            # Summed in float64: total energies of large systems (−177630 eV) would otherwise be
            # rounded by ~0.05 eV.
            out["energy"] = torch.zeros(
                num_structures, dtype=torch.float64, device=out["atomic_energies"].device
            ).index_add_(0, graph["batch"], out["atomic_energies"])
            wants_field = compute_dipole or compute_born_charges
            if compute_forces or compute_stress or wants_field:
                derivatives = forces_stress_and_response(
                    out["energy"], leaf_positions, strain, graph["cell"].double(),
                    field=field if wants_field else None, born_charges=compute_born_charges,
                    create_graph=create_graph,
                )
                if not compute_forces:
                    del derivatives["forces"]
                out.update(derivatives)
        if not create_graph:
            out = {key: value.detach() for key, value in out.items()}
        return out
