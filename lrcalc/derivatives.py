"""Energy → forces and stress by automatic differentiation.

Forces are F_i = −∂E/∂r_i. Stress follows from a homogeneous strain ε applied to positions and
cell, r → r (1 + ε), h → h (1 + ε) (rows of h are cell vectors):

    σ = (1/V) ∂E/∂ε |_{ε=0},     V = |det h|   (eV/Å³),

which is ASE's convention (a compressed crystal that wants to expand has negative diagonal σ).
The derivative with respect to a symmetrised ε is exact for triclinic cells.

Under a uniform external field E (V/Å) the response properties are derivatives too:

    μ = −∂E/∂E_field                      (e·Å; the dipole, including all induced response)
    Z*_{i,αβ} = ∂F_{iβ}/∂E_α = ∂μ_α/∂r_{iβ}     (e; Born effective charges, a mixed second derivative)

μ comes from the same backward pass as the forces; Z* needs one more backward pass per field
direction α through the graph of μ (kept with ``create_graph``).
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


def forces_stress_and_response(
    energy: torch.Tensor,
    positions: torch.Tensor,
    strain: torch.Tensor | None,
    cell: torch.Tensor,
    field: torch.Tensor | None = None,
    born_charges: bool = False,
    create_graph: bool = False,
) -> dict[str, torch.Tensor]:
    """``forces`` [N, 3] (eV/Å), ``stress`` [B, 3, 3] (eV/Å³) if ``strain`` is given, and with a
    ``field`` leaf [B, 3] (V/Å, ``requires_grad``): ``dipole`` [B, 3] = −∂E/∂E_field (e·Å), and if
    ``born_charges``, ``born_effective_charges`` [N, 3, 3] indexed [atom, field direction α, force
    direction β] (e)."""
    if field is None:
        forces, stress = forces_and_stress(energy, positions, strain, cell, create_graph=create_graph)
        return {"forces": forces} if stress is None else {"forces": forces, "stress": stress}
    inputs = [positions, field] + ([] if strain is None else [strain])
    grads = torch.autograd.grad(energy.sum(), inputs, create_graph=create_graph or born_charges,
                                allow_unused=True)
    out = {"forces": -grads[0] if grads[0] is not None else torch.zeros_like(positions)}
    dipole = -grads[1] if grads[1] is not None else torch.zeros_like(field)
    out["dipole"] = dipole
    if strain is not None:
        out["stress"] = _stress_from_virial(grads[2] if grads[2] is not None else torch.zeros_like(strain), cell)
    if born_charges:
        columns = []
        for alpha in range(3):
            if dipole.requires_grad:
                (d_mu,) = torch.autograd.grad(dipole[:, alpha].sum(), positions, retain_graph=True,
                                              create_graph=create_graph, allow_unused=True)
            else:
                d_mu = None
            columns.append(d_mu if d_mu is not None else torch.zeros_like(positions))
        out["born_effective_charges"] = torch.stack(columns, dim=1)  # [N, α, β]
    return out


def _stress_from_virial(virial: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """σ = virial / V (eV/Å³); NaN where the cell has no volume."""
    volume = torch.linalg.det(cell.detach()).abs()
    safe_volume = torch.where(volume > 1e-12, volume, torch.ones_like(volume))
    stress = virial / safe_volume[:, None, None]
    return torch.where((volume > 1e-12)[:, None, None], stress, torch.full_like(stress, float("nan")))


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
    return forces, _stress_from_virial(virial, cell)
