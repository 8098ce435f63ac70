r"""Choice of the numerical parameters of each strategy from a requested accuracy.

``accuracy`` :math:`\varepsilon` is the target relative error of energy and forces
(relative RMS for forces; the stress is within a few :math:`\varepsilon`), checked
against converged Ewald references in the tests. Every neglected tail is cut where it has
decayed to :math:`\varepsilon/10` (:data:`TRUNCATION_SAFETY`) of its value at the origin.
With :math:`x = \operatorname{erfc}^{-1}(\varepsilon/10)`:

- real-space cutoff :math:`r_c = \sqrt2\,x\,\max(s, s_{ij}^{\max})`, where :math:`s` is the
  splitting width and :math:`s_{ij}^{\max} = \sqrt2\,\sigma_{\max}` the widest pair of
  Gaussian charges;
- Ewald: :math:`s = (V^2/N)^{1/6}/\sqrt{2\pi}` (balances real and reciprocal work, giving
  O(N^{3/2})), reciprocal cutoff :math:`k_{\max} = \sqrt2\,x/s`;
- P3M/PME: :math:`s = \max(s_0 f, \sqrt2\,\sigma_{\min})` with :math:`s_0` =
  :data:`MESH_SMEARING` (Å) and :math:`f = \min\big((\rho_0/\rho)^{1/6}, f_{\max}\big) \ge 1`
  for the mean atom density :math:`\rho = N/V` of the (padded) cell and :math:`\rho_0` =
  :data:`MESH_REFERENCE_DENSITY`: the real-space work grows as :math:`N\rho_{\rm local} s^3` and the
  mesh work as :math:`V/s^3`, so a cell that is mostly empty (the padded cell of a slab, a gas)
  balances them at a wider split (measured with 2 threads, P3M at 1e-4, a solve of 22 applications
  plus one differentiable one: the 2254-atom BTA/Cu slab, ρ = 0.025 Å⁻³, 145–157 ms per step at
  s = 1.6 Å against 114 ms at 2.0 Å; the 9016-atom one 854–934 against 549–563 ms at 2.2–2.4 Å; a
  random bulk at ρ = 0.1 Å⁻³ is fastest at 1.6 Å, 1.5–3× slower at 2.0–2.4 Å), mesh spacing
  :math:`h = s\,c(\varepsilon)` from a table
  calibrated against Ewald (P3M with 5 interpolation nodes, PME with 7). When all atoms
  share one width :math:`\sigma` and :math:`s = \sqrt2\sigma`, the real-space remainder is
  exactly zero and no pair list is needed;
- slabs: the Yeh–Berkowitz correction and the layer correction (:mod:`.slab`) remove the
  interaction with the images of the padded cell exactly, up to modes with
  :math:`|\mathbf k_\parallel| > k_{\max} = \ln(10/\varepsilon)/g`, whose image terms have
  decayed below :math:`\varepsilon/10` across the vacuum gap :math:`g`. The gap trades
  mesh or k-vector work (∝ the padded height) against the O(N·K) layer correction
  (:math:`K \approx A k_{\max}^2/4\pi` modes for in-plane area :math:`A`):
  :math:`g = \max\big(\sqrt2\,x\,s_{ij}^{\max},\ \ln(10/\varepsilon)\sqrt{A / 4\pi K_0}\big)`
  with :math:`K_0` = :data:`LAYER_MODES`, so that about :math:`K_0` modes are summed; the
  first term keeps the widest Gaussian pair point-like across the gap. Where that would leave
  fewer than :data:`LAYER_MIN_MODES` modes (small cells), the correction is dropped and the gap
  widened to :math:`\ln(10/\varepsilon)/k_{\min}` instead. The gap depends on
  the cell and the widths only, never on the positions (the energy does not depend on the gap,
  for net-charged slabs too, to the accuracy; a gap that moved with the atoms would still turn
  those residual errors into force errors).

The parameters depend on the cell only continuously (through :math:`V` for Ewald and
through the slab thickness); integer quantities (mesh points, k-vectors) change in steps
whose effect is below :math:`\varepsilon`. For NPT dynamics or finite differences, tune
once with :func:`tune` and pass the frozen :class:`CoulombParameters` to every call.
"""

import dataclasses
import math

import torch

from .reciprocal import half_space_indices, reciprocal_basis

#: Tails are cut at this fraction of ``accuracy``: the many pairs near the real-space
#: cutoff add up, and without the margin the force error is 2-4 times ``accuracy``.
TRUNCATION_SAFETY = 0.1

#: Splitting width of the mesh methods (Å) at :data:`MESH_REFERENCE_DENSITY` and above.
MESH_SMEARING = 1.6
#: Mean atom density (Å⁻³) of a dense system (condensed matter, about 0.1), for which
#: :data:`MESH_SMEARING` balances real-space and mesh work; sparser cells split wider (module docstring).
MESH_REFERENCE_DENSITY = 0.1
#: Largest widening of the mesh methods' splitting width for sparse cells.
MESH_SMEARING_MAX_FACTOR = 2.0

# mesh spacing / smearing for P3M (5 nodes) and PME (6 nodes), by -log10(accuracy)
# (calibrated on random ions in triclinic cells: relative RMS force error <= ~2 accuracy)
_P3M_SPACING = {2: 0.72, 3: 0.6, 4: 0.46, 5: 0.3, 6: 0.19, 7: 0.14, 8: 0.1}
_PME_SPACING = {2: 0.56, 3: 0.44, 4: 0.34, 5: 0.26, 6: 0.2, 7: 0.15, 8: 0.11}
_ORDERS = {"p3m": 5, "pme": 7}


@dataclasses.dataclass(frozen=True)
class CoulombParameters:
    """Numerical parameters of one evaluation strategy.

    :ivar method: ``"direct"``, ``"ewald"``, ``"pme"`` or ``"p3m"``.
    :ivar smearing: Ewald splitting width s (Å); ``None`` for ``"direct"``.
    :ivar cutoff: real-space cutoff (Å); ``0`` when no real-space sum is needed.
    :ivar k_max: reciprocal cutoff (1/Å), Ewald only.
    :ivar mesh_spacing: target mesh spacing (Å), mesh methods only.
    :ivar order: interpolation nodes per axis, mesh methods only.
    :ivar vacuum: vacuum gap (Å) added along the non-periodic axis of a slab.
    :ivar layer_k_max: largest in-plane wavevector (1/Å) of the slab layer correction
        (``None``: no layer correction, only Yeh–Berkowitz).
    :ivar accuracy: the accuracy the parameters were chosen for.
    """

    method: str
    smearing: float | None = None
    cutoff: float = 0.0
    k_max: float | None = None
    mesh_spacing: float | None = None
    order: int | None = None
    vacuum: float | None = None
    accuracy: float = 1e-6
    layer_k_max: float | None = None


def erfcinv(y: float) -> float:
    """Inverse complementary error function (float64, fine for 1e-15 < y < 1)."""
    return float(torch.special.erfinv(torch.tensor(1.0 - y, dtype=torch.float64)))


#: Target number of in-plane modes of the slab layer correction (sets the vacuum gap).
LAYER_MODES = 256
#: Fewest modes for which the layer correction is used; below, the gap grows instead.
LAYER_MIN_MODES = 16

#: Largest 3-D periodic or slab system for which ``method="auto"`` uses Ewald.
AUTO_EWALD_MAX_ATOMS = 1000


def resolve_method(method: str, n_atoms: int, pbc: tuple[bool, bool, bool]) -> str:
    """Concrete strategy for ``method`` (``"auto"`` picks by system)."""
    periodic = any(pbc)
    if method == "auto":
        if not periodic:
            return "direct"
        return "ewald" if n_atoms <= AUTO_EWALD_MAX_ATOMS else "p3m"
    if periodic and method == "direct":
        raise ValueError("method='direct' is only for non-periodic systems; use 'ewald', 'pme' or 'p3m'")
    if not periodic and method != "direct":
        raise ValueError(f"method={method!r} needs periodic boundary conditions; use 'direct' or 'auto'")
    return method


def _table(table: dict[int, float], accuracy: float) -> float:
    digits = -math.log10(accuracy)
    keys = sorted(table)
    digits = min(max(digits, keys[0]), keys[-1])
    lo = max(k for k in keys if k <= digits)
    hi = min(k for k in keys if k >= digits)
    if lo == hi:
        return table[lo]
    t = (digits - lo) / (hi - lo)
    return table[lo] * (1 - t) + table[hi] * t


def tune(
    positions: torch.Tensor,
    cell: torch.Tensor | None,
    pbc: tuple[bool, bool, bool],
    sigma: torch.Tensor | None,
    method: str,
    accuracy: float = 1e-6,
) -> CoulombParameters:
    """Parameters of ``method`` for ``accuracy``; freeze them for MD/NPT or finite differences.

    :param positions: ``[N, 3]`` (Å). :param cell: ``[3, 3]`` (Å) or ``None``.
    :param pbc: periodicity. :param sigma: ``[N]`` Gaussian widths (Å) or ``None``.
    :param method: ``"auto"``, ``"direct"``, ``"ewald"``, ``"pme"`` or ``"p3m"``.
    :param accuracy: relative accuracy, between 1e-12 and 1e-2.
    """
    method = resolve_method(method, positions.shape[0], tuple(bool(p) for p in pbc))
    if not 1e-12 <= accuracy <= 1e-2:
        raise ValueError(f"accuracy must lie in [1e-12, 1e-2], got {accuracy}")
    if method == "direct":
        return CoulombParameters(method="direct", accuracy=accuracy)
    x = float(erfcinv(TRUNCATION_SAFETY * accuracy))
    n_atoms = positions.shape[0]
    if sigma is None:
        s_min = s_max = 0.0
        uniform = False
    else:
        s_min = math.sqrt(2.0) * float(sigma.detach().min())
        s_max = math.sqrt(2.0) * float(sigma.detach().max())
        uniform = bool(torch.all(sigma.detach() == sigma.detach()[0]))
    slab = not all(pbc)
    if slab:
        # the volume of the padded cell is not known yet: use the in-plane area and
        # an estimate of the padded thickness (with the gap that no Gaussian width widens)
        least_padding = slab_padding(cell, pbc, 0.0, accuracy)
        volume = _slab_volume_estimate(positions, cell, pbc, least_padding[0])
    else:
        volume = float(torch.abs(torch.linalg.det(cell.detach())))
    if method == "ewald":
        smearing = (volume**2 / max(n_atoms, 1)) ** (1.0 / 6.0) / math.sqrt(2 * math.pi)
        smearing = max(smearing, 0.5)
        cutoff = math.sqrt(2.0) * x * max(smearing, s_max)
        params = {"k_max": math.sqrt(2.0) * x / smearing}
    elif method in ("pme", "p3m"):
        density = max(n_atoms, 1) / volume
        widening = min(max((MESH_REFERENCE_DENSITY / density) ** (1.0 / 6.0), 1.0), MESH_SMEARING_MAX_FACTOR)
        smearing = max(MESH_SMEARING * widening, s_min)
        if uniform and s_min >= MESH_SMEARING * widening:
            cutoff = 0.0
        else:
            cutoff = math.sqrt(2.0) * x * max(smearing, s_max)
        table = _P3M_SPACING if method == "p3m" else _PME_SPACING
        params = {"mesh_spacing": smearing * _table(table, accuracy), "order": _ORDERS[method]}
    else:
        raise ValueError(f"unknown method {method!r}")
    vacuum = layer_k_max = None
    if slab:
        # The gap must not follow the positions (autograd treats the parameters as constants, and
        # the energy depends on the gap only within the accuracy): it depends on the in-plane cell and
        # on the widest Gaussian pair, which must act as point charges across the gap.
        minimum = math.sqrt(2.0) * x * s_max
        vacuum, layer_k_max = (least_padding if minimum <= _layer_gap(cell, pbc, accuracy)
                               else slab_padding(cell, pbc, minimum, accuracy))
    return CoulombParameters(
        method=method,
        smearing=smearing,
        cutoff=cutoff,
        vacuum=vacuum,
        accuracy=accuracy,
        layer_k_max=layer_k_max,
        **params,
    )


def _image_decay(accuracy: float) -> float:
    """ln(10/ε): the exponent k·g at which a slab image term e^{-k g} is cut (see the module)."""
    return math.log(1.0 / (TRUNCATION_SAFETY * accuracy))


def slab_padding(cell: torch.Tensor, pbc, minimum: float, accuracy: float) -> tuple[float, float | None]:
    """Vacuum gap (Å) of a slab's padded cell and the cutoff (1/Å) of its layer correction
    (``None``: not needed). See the module docstring; when the layer correction would sum fewer
    than :data:`LAYER_MIN_MODES` modes (small cells, whose shortest in-plane wavevector is long), a
    gap of ln(10/ε)/k_min makes every image term negligible and the correction is left out: a
    little more vacuum costs less than the correction's fixed overhead there."""
    axes = [a for a in range(3) if pbc[a]]
    plane = cell[axes].detach()
    decay = _image_decay(accuracy)
    gap = max(minimum, _layer_gap(cell, pbc, accuracy))
    modes = half_space_indices(plane, decay / gap)  # the in-plane modes the correction would sum
    if modes.shape[0] >= LAYER_MIN_MODES:
        return gap, decay / gap
    if modes.shape[0] == 0:  # every image term is already negligible across this gap
        return gap, None
    k_min = float(torch.linalg.norm(modes @ reciprocal_basis(plane), dim=1).min())
    return 1.000001 * decay / k_min, None


def _layer_gap(cell, pbc, accuracy: float) -> float:
    """The gap (Å) at which the layer correction sums about :data:`LAYER_MODES` modes: what
    :func:`slab_padding` starts from, for any ``minimum`` below it."""
    axes = [a for a in range(3) if pbc[a]]
    plane = cell[axes].detach()
    area = float(torch.linalg.norm(torch.linalg.cross(plane[0], plane[1])))
    return _image_decay(accuracy) * math.sqrt(area / (4.0 * math.pi * LAYER_MODES))


def _slab_volume_estimate(positions, cell, pbc, gap: float) -> float:
    """In-plane area × (thickness of the atoms along the normal + ``gap``), Å³."""
    axes = [a for a in range(3) if pbc[a]]
    normal = torch.linalg.cross(cell[axes[0]], cell[axes[1]]).detach()  # length: the in-plane area
    area = float(torch.linalg.norm(normal))
    z = positions.detach() @ (normal / area)
    thickness = float(z.max() - z.min()) + gap
    return area * thickness
