"""Energy → forces and stress by automatic differentiation.

Forces are F_i = −∂E/∂r_i. Stress follows from a homogeneous strain ε applied to positions and
cell, r → r (1 + ε), h → h (1 + ε) (rows of h are cell vectors):

    σ = (1/V) ∂E/∂ε |_{ε=0},     V = |det h|   (eV/Å³),

which is ASE's convention (a compressed crystal that wants to expand has negative diagonal σ).
The derivative with respect to a symmetrised ε is exact for triclinic cells.
"""

from __future__ import annotations

import torch


def apply_strain(graph: dict[str, torch.Tensor], requires_stress: bool):
    """Leaf positions, the positions and cell a model must use, and the strain tensor (or ``None``),
    all float64 (geometry is never rounded to a float32 network's precision).

    Returns ``(leaf_positions, positions, cell, strain)``: forces are −∂E/∂leaf_positions; the model
    computes E from the strained ``positions`` and ``cell``, which makes ∂E/∂strain the virial.
    """
    positions = graph["positions"].detach().to(torch.float64).requires_grad_(True)
    cell = graph["cell"].to(torch.float64)
    if not requires_stress:
        return positions, positions, cell, None
    num_structures = cell.shape[0]
    strain = torch.zeros(num_structures, 3, 3, dtype=cell.dtype, device=cell.device, requires_grad=True)
    symmetric = 0.5 * (strain + strain.transpose(1, 2))
    strained_positions = positions + torch.einsum("nx,nxy->ny", positions, symmetric[graph["batch"]])
    strained_cell = cell + torch.bmm(cell, symmetric)
    return positions, strained_positions, strained_cell, strain


def forces_and_stress(
    energy: torch.Tensor,
    positions: torch.Tensor,
    strain: torch.Tensor | None,
    cell: torch.Tensor,
    create_graph: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Forces [N, 3] (eV/Å) and stress [B, 3, 3] (eV/Å³; NaN where the cell has no volume).

    ``energy`` is the per-structure energy [B]; ``create_graph=True`` keeps the graph so that a loss
    on forces or stress can be differentiated again (training).
    """
    inputs = [positions] if strain is None else [positions, strain]
    grads = torch.autograd.grad(
        energy.sum(), inputs, create_graph=create_graph, allow_unused=True
    )
    forces = -grads[0] if grads[0] is not None else torch.zeros_like(positions)
    if strain is None:
        return forces, None
    virial = grads[1] if grads[1] is not None else torch.zeros_like(strain)
    volume = torch.linalg.det(cell.detach()).abs()
    safe_volume = torch.where(volume > 1e-12, volume, torch.ones_like(volume))
    stress = virial / safe_volume[:, None, None]
    stress = torch.where((volume > 1e-12)[:, None, None], stress, torch.full_like(stress, float("nan")))
    return forces, stress
