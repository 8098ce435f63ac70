"""The interface every lrcalc model implements, and what it returns.

A model maps a graph (:mod:`lrcalc.graph`) to per-atom energies; :class:`AtomisticModel.forward`
sums them per structure and takes forces and stress by autograd (:mod:`lrcalc.derivatives`).
Subclasses implement only :meth:`AtomisticModel.per_atom`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..derivatives import apply_strain, forces_and_stress


def _is_codegen_constant(key: str) -> bool:
    """e3nn's generated tensor-product modules gain a ``_tensor_constant<k>`` buffer (a fixed
    Wigner-3j block) when they are deep-copied or unpickled; it is rebuilt from the irreps, so it
    is no part of a model's state."""
    return "._tensor_constant" in key


def _drop_codegen_constants(module, state_dict, prefix, *args):
    for key in [k for k in state_dict if k.startswith(prefix) and _is_codegen_constant(k)]:
        del state_dict[key]


def _forgive_missing_codegen_constants(module, incompatible_keys):
    for key in [k for k in incompatible_keys.missing_keys if _is_codegen_constant(k)]:
        incompatible_keys.missing_keys.remove(key)


class AtomisticModel(nn.Module):
    """Base class: graph → energy [B] (eV), atomic energies [N], forces [N, 3], stress [B, 3, 3]."""

    def __init__(self):
        super().__init__()
        # the same state dict whether or not the model was deep-copied (EMA, checkpoints)
        self._register_state_dict_hook(lambda module, state, prefix, meta: _drop_codegen_constants(module, state, prefix))
        self._register_load_state_dict_pre_hook(_drop_codegen_constants, with_module=True)
        self.register_load_state_dict_post_hook(_forgive_missing_codegen_constants)

    config: dict
    species: list[str]
    cutoff: float

    @property
    def outputs(self) -> tuple[str, ...]:
        """What the model produces for a structure: ``energy``, ``atomic_energies``, ``forces``,
        ``stress`` always, plus ``charges`` (e per atom) for models with charges. Callers (the
        calculator, the trainer, the CLI) read this declaration instead of probing the model."""
        base = ("energy", "atomic_energies", "forces", "stress")
        long_range = self.config.get("long_range", "none")
        if long_range == "qeq" or (long_range == "lorem" and self.config.get("lorem_coulomb", False)):
            return base + ("charges",)
        return base

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def per_atom(
        self, graph: dict[str, torch.Tensor], positions: torch.Tensor, cell: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-atom outputs; must contain ``atomic_energies`` [N] in eV.

        ``positions`` and ``cell`` must be used instead of ``graph["positions"]``/``graph["cell"]``
        (they carry the strain for the stress).
        """
        raise NotImplementedError

    def forward(
        self,
        graph: dict[str, torch.Tensor],
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Energies and their derivatives for a (batched) graph.

        Args:
            graph: from :func:`lrcalc.graph.atoms_to_graph`, in the model's dtype and device.
            compute_forces: add ``forces`` [N, 3] (eV/Å).
            compute_stress: add ``stress`` [B, 3, 3] (eV/Å³, ASE sign; NaN for structures without
                a cell volume).
            create_graph: keep the autograd graph (training: a loss on energies, forces or stress
                will be differentiated with respect to the weights). Otherwise outputs are detached.

        Returns:
            ``energy`` [B] (eV), ``atomic_energies`` [N] (eV) and the requested derivatives, plus any
            extra per-atom outputs of the model.
        """
        with torch.enable_grad():
            leaf_positions, positions, cell, strain = apply_strain(graph, compute_stress)
            out = self.per_atom(graph, positions, cell)
            num_structures = graph["num_atoms"].shape[0]
            # Summed in float64 even for float32 models: total energies of large systems (e.g.
            # −177630 eV) would otherwise be rounded by ~0.05 eV.
            energy = torch.zeros(
                num_structures, dtype=torch.float64, device=out["atomic_energies"].device
            ).index_add_(0, graph["batch"], out["atomic_energies"].double())
            out["energy"] = energy
            if compute_forces or compute_stress:
                forces, stress = forces_and_stress(
                    energy, leaf_positions, strain, graph["cell"], create_graph=create_graph
                )
                if compute_forces:
                    out["forces"] = forces
                if stress is not None:
                    out["stress"] = stress
        if not create_graph:
            out = {key: value.detach() for key, value in out.items()}
        return out
