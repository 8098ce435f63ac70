r"""Forces and stress from an energy function by automatic differentiation.

For a homogeneous strain :math:`\varepsilon` applied to positions and cell alike
(:math:`\mathbf x \to \mathbf x(1+\varepsilon)`, :math:`\mathbf h \to \mathbf h(1+\varepsilon)`,
cell vectors as rows),

.. math::

    \sigma_{ab} = \frac1V \frac{\partial E}{\partial \varepsilon_{ab}}
    = \frac1V\Big[\sum_i x_{ia}\frac{\partial E}{\partial x_{ib}}
    + \sum_r h_{ra}\frac{\partial E}{\partial h_{rb}}\Big]

(eV/Å³, ASE sign convention: positive when the system wants to contract).
"""

import torch


def strain_derivatives(energy_fn, positions, cell, pbc=None, create_graph=False):
    """Return ``(energy, forces, stress)`` of ``energy_fn(positions, cell)``.

    ``stress`` is a 3x3 tensor (eV/Å³) or ``None`` without a cell or periodicity.
    Outputs are detached unless ``create_graph``.
    """
    periodic = cell is not None and (pbc is None or any(bool(p) for p in pbc))
    pos = positions.detach().requires_grad_(True) if not create_graph else positions
    inputs = [pos]
    c = None
    if cell is not None:
        c = cell.detach().requires_grad_(True) if not create_graph else cell
        if periodic:
            inputs.append(c)
    energy = energy_fn(pos, c)
    grads = torch.autograd.grad(energy, inputs, create_graph=create_graph)
    forces = -grads[0]
    stress = None
    if periodic:
        volume = torch.abs(torch.linalg.det(c))
        stress = (pos.T @ grads[0] + c.T @ grads[1]) / volume
    if not create_graph:
        energy = energy.detach()
        forces = forces.detach()
        stress = None if stress is None else stress.detach()
    return energy, forces, stress


def to_voigt(stress: torch.Tensor) -> torch.Tensor:
    """3x3 stress to ASE's Voigt order ``[xx, yy, zz, yz, xz, xy]``."""
    return torch.stack([stress[0, 0], stress[1, 1], stress[2, 2], stress[1, 2], stress[0, 2], stress[0, 1]])
