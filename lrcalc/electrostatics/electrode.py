r"""Metal electrodes held at fixed potentials: the constant-potential method.

The charges of a metal electrode are not parameters but the response to the potential it is held
at (Siepmann & Sprik 1995; Reed, Lanning & Madden 2007; the method of LAMMPS's ELECTRODE package,
``fix electrode/conp``). Every electrode atom :math:`i` carries a Gaussian charge :math:`q_i` (e)
of width :math:`\sigma_i` (Å), in lrcalc's convention :math:`\rho_i(\mathbf r) = q_i
(2\pi\sigma_i^2)^{-3/2} e^{-|\mathbf r - \mathbf r_i|^2/2\sigma_i^2}` (:mod:`.kernels`). Electrode
:math:`e` is held at the potential :math:`V_e` (V); any other charges (an electrolyte, a molecule)
are fixed. The electrode charges minimise

.. math::

    \Omega(q) = \tfrac12\, q^{\mathsf T} H q + \sum_i q_i\,\big(\psi_i - V_{e(i)}\big)
    \quad\text{subject to}\quad \sum_i q_i = Q_{\mathrm{el}},

over electrode atoms only, with

- :math:`H_{ij} = k_e A_{ij}` (eV/e²) the Gaussian Coulomb matrix of :mod:`.coulomb` restricted to
  the electrode atoms: pair kernel :math:`\operatorname{erf}(r_{ij}/\sqrt2 s_{ij})/r_{ij}`,
  :math:`s_{ij} = \sqrt{\sigma_i^2+\sigma_j^2}`, over all periodic images (slabs: with the
  Yeh–Berkowitz and layer corrections, i.e. exactly two-dimensional periodicity), and the
  Gaussian self-interaction :math:`k_e/(\sqrt\pi\,\sigma_i)` on the diagonal, which makes
  :math:`H` positive definite with no hardness added;
- :math:`\psi_i` (V) the potential of the fixed charges :math:`q_j` (widths :math:`\sigma_j \ge 0`,
  0 for point charges) averaged over Gaussian :math:`i`: :math:`\psi_i = k_e\sum_j q_j
  \operatorname{erf}(r_{ij}/\sqrt2 s_{ij})/r_{ij}`;
- :math:`Q_{\mathrm{el}}` (e) the total electrode charge, 0 by default (LAMMPS's ``symm on``).

The minimum solves the bordered linear system

.. math::

    H q + \psi = V + \mu \mathbf 1,\qquad \mathbf 1^{\mathsf T} q = Q_{\mathrm{el}}:

every electrode atom sits at the potential of its electrode, all shifted by one common
:math:`\mu` (V), the Lagrange multiplier of the charge constraint. With the total charge fixed,
only differences of potentials matter: :math:`V_e` and :math:`V_e + c` give the same charges.
Electrodes are a few hundred atoms, so :math:`H` is built column by column from the Coulomb
operator and solved densely in float64.

**Signs.** :math:`\psi` and :math:`V` are electric potentials (V = eV/e): the electrode at the
higher potential takes the positive charge. Swapping the potentials of two electrodes flips their
charges; the charges are linear in :math:`\Delta V` (plus a part induced by the fixed charges).

**Gaussian widths in LAMMPS.** LAMMPS's ``eta`` (1/Å) writes the same Gaussian as
:math:`\rho \propto e^{-\eta^2 r^2}`, so :math:`\sigma = 1/(\sqrt2\,\eta)`
(:func:`sigma_from_lammps_eta`): its self term :math:`\sqrt2\,\eta/\sqrt\pi`, pair kernel
:math:`\operatorname{erf}(\eta r/\sqrt2)/r` between electrode atoms and
:math:`\operatorname{erf}(\eta r)/r` towards point charges are the ones above.

**Parallel-plate capacitor.** Two single atomic layers, a distance :math:`d` apart, with in-plane
reciprocal lattice :math:`\{\mathbf G\}` and equal widths :math:`\sigma`, at :math:`\Delta V` hold
the charge per area :math:`\Delta V / (4\pi k_e\, d_{\mathrm{eff}})` with, for a gap much wider than
:math:`\sigma` and than the lattice spacing,

.. math::

    d_{\mathrm{eff}} = d - \frac{2\sigma}{\sqrt\pi} + \sum_{\mathbf G \ne 0}
    \frac{\operatorname{erfc}(G\sigma)}{G}:

smearing a sheet of charge over its own Gaussian lowers its potential by
:math:`4\pi k_e \sigma_A\,\sigma/\sqrt\pi` (it moves the plates' charge towards each other), while
the discreteness of the layer raises it (the last term; for a square layer of spacing
:math:`a` = 2.5 Å: 0.66, 0.13 and 0.0006 Å at :math:`\sigma` = 0.3, 0.5 and 1 Å).
``tests/electrostatics/test_electrode.py`` derives and checks it.
"""

import dataclasses
import math

import torch

from .constants import COULOMB_CONSTANT
from .coulomb import CoulombOperator
from .neighbors import build_pair_list
from .tuning import TRUNCATION_SAFETY, CoulombParameters, erfcinv
from .validation import check_system

_SQRT2 = math.sqrt(2.0)


@dataclasses.dataclass
class ElectrodeInfo:
    """What a constant-potential solve found besides the charges.

    :param electrode_charges: ``[n_electrodes]`` total charge :math:`Q_e` of each electrode (e).
    :param potential_shift: :math:`\\mu` (V): every electrode atom sits at :math:`V_e + \\mu`.
    :param external_potential: ``[N_el]`` potential :math:`\\psi_i` (V) of the fixed charges on
        the electrode atoms (in the order of ``electrode_index >= 0``); zeros without them.
    :param coulomb_matrix: ``[N_el, N_el]`` :math:`H` (eV/e²); its inverse with the constraint
        gives the capacitance.
    :param parameters: the Coulomb parameters of the electrode operator.
    """

    electrode_charges: torch.Tensor
    potential_shift: float
    external_potential: torch.Tensor
    coulomb_matrix: torch.Tensor
    parameters: CoulombParameters


def sigma_from_lammps_eta(eta: float) -> float:
    """Width σ (Å) in lrcalc's convention of LAMMPS's ELECTRODE ``eta`` (1/Å): σ = 1/(√2 η)."""
    if not eta > 0:
        raise ValueError(f"eta must be positive (1/Å), got {eta}")
    return 1.0 / (_SQRT2 * eta)


def constant_potential_charges(
    positions: torch.Tensor,
    sigma,
    electrode_index,
    potentials_V,
    cell: torch.Tensor | None = None,
    pbc=None,
    fixed_charges: torch.Tensor | None = None,
    total_charge: float = 0.0,
    method: str = "auto",
    accuracy: float = 1e-8,
    return_info: bool = False,
):
    r"""Charges (e) of electrodes held at fixed potentials, and the minimised energy (eV).

    See the module docstring for the equations and sign conventions.

    :param positions: ``[N, 3]`` positions (Å) of every atom: electrodes and fixed charges.
    :param sigma: Gaussian widths (Å): a float, the width of every electrode atom (the fixed
        charges are then point charges, as LAMMPS treats the electrolyte), or an ``[N]`` tensor
        with a positive width for each electrode atom and a width ≥ 0 for each fixed charge (0: a
        point charge).
    :param electrode_index: ``[N]`` integers: the electrode (0, 1, …) each atom belongs to, or −1
        for an atom with a fixed charge.
    :param potentials_V: the potential :math:`V_e` (V) of each electrode, one per electrode index.
        With the total charge constrained only differences matter: ΔV = V₁ − V₀.
    :param cell: ``[3, 3]`` cell vectors as rows (Å), or ``None``. :param pbc: three booleans;
        two electrodes facing each other across a gap are a slab ``(True, True, False)``.
    :param fixed_charges: ``[N]`` charges (e) of the non-electrode atoms (entries of electrode
        atoms are ignored: they are solved for); ``None``: electrodes alone.
    :param total_charge: total charge :math:`Q_{\mathrm{el}}` of all electrodes together (e);
        0 makes them neutral (LAMMPS's ``symm on``). With charged fixed charges, pass minus their
        sum to keep the whole system neutral.
    :param method: Coulomb strategy (``"auto"``, ``"direct"``, ``"ewald"``, ``"pme"``, ``"p3m"``).
    :param accuracy: relative accuracy of the Coulomb sums (default 1e-8).
    :param return_info: also return an :class:`ElectrodeInfo`.
    :return: ``(charges, energy)``: ``charges`` ``[N]`` (e), the solved electrode charges with the
        fixed charges in the other entries; ``energy`` the minimum of :math:`\Omega` (eV, float):
        the Coulomb energy of the electrode charges among themselves and with the fixed charges,
        minus :math:`\sum_e V_e Q_e`. The energy of the fixed charges among themselves does not
        depend on the electrode charges and is not included (:func:`~.coulomb.coulomb_energy`
        gives it). Computed without autograd, in float64.
    """
    cell, pbc = check_system(positions, cell, pbc, None, method)
    n = positions.shape[0]
    index = _electrode_index(electrode_index, n)
    potentials = torch.as_tensor(potentials_V, dtype=torch.float64).reshape(-1)
    n_electrodes = potentials.shape[0]
    if not torch.isfinite(potentials).all():
        raise ValueError("potentials_V contain NaN or infinite values")
    if int(index.max()) >= n_electrodes:
        raise ValueError(
            f"electrode_index refers to electrode {int(index.max())} but potentials_V gives "
            f"{n_electrodes} potential(s)"
        )
    missing = [e for e in range(n_electrodes) if not bool((index == e).any())]
    if missing:
        raise ValueError(f"electrode(s) {missing} have a potential but no atoms in electrode_index")
    electrode = index >= 0
    widths = _widths(sigma, electrode)
    q_fixed = _fixed_charges(fixed_charges, electrode)

    with torch.no_grad():
        pos = positions.detach().to(torch.float64)
        box = None if cell is None else cell.detach().to(torch.float64)
        coulomb = CoulombOperator(pos[electrode], box, pbc, widths[electrode], method, accuracy)
        n_el = int(electrode.sum())
        h = coulomb.matrix(torch.float64)
        h = 0.5 * (h + h.T)
        psi = _fixed_charge_potential(pos, box, pbc, widths, electrode, q_fixed, method, accuracy)
        target = potentials[index[electrode]]
        kkt = torch.zeros(n_el + 1, n_el + 1, dtype=torch.float64)
        kkt[:n_el, :n_el] = h
        kkt[:n_el, n_el] = -1.0
        kkt[n_el, :n_el] = 1.0
        rhs = torch.cat([target - psi, target.new_tensor([float(total_charge)])])
        solution = torch.linalg.solve(kkt, rhs)
        q, mu = solution[:n_el], float(solution[n_el])
        energy = float(0.5 * q @ (h @ q) + q @ (psi - target))

    charges = q_fixed.clone()
    charges[electrode] = q
    charges = charges.to(positions.dtype)
    if return_info:
        totals = torch.zeros(n_electrodes, dtype=torch.float64).index_add(0, index[electrode], q)
        return charges, energy, ElectrodeInfo(totals, mu, psi, h, coulomb.parameters)
    return charges, energy


def _electrode_index(electrode_index, n: int) -> torch.Tensor:
    index = torch.as_tensor(electrode_index)
    if index.shape != (n,):
        raise ValueError(f"electrode_index must have shape [N] = [{n}], got {list(index.shape)}")
    if index.dtype.is_floating_point and not bool((index == torch.round(index)).all()):
        raise ValueError("electrode_index must hold integers (electrode number, or -1 for fixed charges)")
    index = index.to(torch.int64)
    if bool((index < -1).any()):
        raise ValueError("electrode_index must be ≥ 0 for electrode atoms and −1 for fixed charges")
    if not bool((index >= 0).any()):
        raise ValueError("electrode_index marks no electrode atom")
    return index


def _widths(sigma, electrode: torch.Tensor) -> torch.Tensor:
    """[N] widths (Å), float64: positive on electrode atoms, ≥ 0 (0: point charge) elsewhere."""
    n = electrode.shape[0]
    if isinstance(sigma, torch.Tensor) and sigma.dim() > 0:
        if sigma.shape != (n,):
            raise ValueError(f"sigma must be a float or a tensor of shape [N] = [{n}] (Å)")
        widths = sigma.detach().to(torch.float64)
    else:
        widths = torch.where(electrode, float(sigma), 0.0).to(torch.float64)
    if not torch.isfinite(widths).all() or bool((widths < 0).any()):
        raise ValueError("sigma must be finite and non-negative (Å)")
    if not bool((widths[electrode] > 0).all()):
        raise ValueError("every electrode atom needs a positive Gaussian width sigma (Å)")
    return widths


def _fixed_charges(fixed_charges, electrode: torch.Tensor) -> torch.Tensor:
    """[N] float64 charges (e), zero on electrode atoms."""
    n = electrode.shape[0]
    if fixed_charges is None:
        return torch.zeros(n, dtype=torch.float64)
    q = torch.as_tensor(fixed_charges).detach().to(torch.float64)
    if q.shape != (n,):
        raise ValueError(f"fixed_charges must have shape [N] = [{n}] (e)")
    if not torch.isfinite(q).all():
        raise ValueError("fixed_charges contain NaN or infinite values")
    return torch.where(electrode, 0.0, q)


def _fixed_charge_potential(pos, cell, pbc, widths, electrode, q, method, accuracy) -> torch.Tensor:
    r"""ψ_i (V) on the electrode atoms: the fixed charges' potential averaged over Gaussian i.

    The periodic sum runs for point charges (:math:`1/r`); the smearing enters as the short-range
    difference :math:`-k_e\sum_j q_j\operatorname{erfc}(r_{ij}/\sqrt2 s_{ij})/r_{ij}`, summed over
    pairs closer than where it has decayed to ``accuracy``/10.
    """
    if not bool((q != 0).any()):
        return torch.zeros(int(electrode.sum()), dtype=torch.float64)
    phi = CoulombOperator(pos, cell, pbc, None, method, accuracy)(q)
    s_max = math.sqrt(float(widths[electrode].max()) ** 2 + float(widths[~electrode].max()) ** 2)
    cutoff = _SQRT2 * erfcinv(TRUNCATION_SAFETY * accuracy) * s_max
    pairs = build_pair_list(pos, cell, pbc, cutoff)
    r = pairs.distances
    for a, b in ((pairs.i, pairs.j), (pairs.j, pairs.i)):
        cross = electrode[a] & ~electrode[b]
        if not bool(cross.any()):
            continue
        a, b, d = a[cross], b[cross], r[cross]
        if bool((d < 1e-8).any()):
            raise ValueError("a fixed charge sits on an electrode atom")
        s = torch.sqrt(widths[a] ** 2 + widths[b] ** 2)
        phi = phi.index_add(0, a, -COULOMB_CONSTANT * q[b] * torch.erfc(d / (_SQRT2 * s)) / d)
    return phi[electrode]
