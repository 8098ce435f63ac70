r"""Assembly of the strategies into one linear operator and the public entry points.

For charges :math:`q` (e) the electrostatic potential (eV/e) and energy (eV) are

.. math::

    \phi_i = \frac{\partial E}{\partial q_i} = k_e \sum_j A_{ij} q_j, \qquad
    E = \tfrac12 \sum_i q_i \phi_i,

where :math:`A` contains the Gaussian pair kernel over all pairs and periodic images, the
Gaussian self-energies, and, depending on the boundary conditions, the neutralising
background (net-charged periodic cells) and the Yeh–Berkowitz slab correction:

- non-periodic: :mod:`.direct` (all pairs);
- 3-D periodic: :mod:`.realspace` + :mod:`.ewald` or :mod:`.pme` + self and background
  terms from :mod:`.kernels`;
- slabs ``pbc`` with one ``False``: as 3-D periodic in a padded cell, plus :mod:`.slab`.

Each part is a :class:`~.strategy.CoulombStrategy`.

:class:`CoulombOperator` precomputes everything that depends on the geometry only (pair
list and kernel values, k-vectors or mesh weights), so that applying it to many charge
vectors is cheap; it is differentiable with respect to positions, cell and widths when
built from tensors that require grad.
"""

import torch

from .constants import COULOMB_CONSTANT
from .cell import cell_volume
from .direct import DirectSum
from .ewald import EwaldKSpace
from .kernels import background_coefficient, self_coefficient
from .neighbors import build_pair_list
from .pme import MeshKSpace, mesh_shape
from .realspace import RealSpaceSum
from .slab import SlabGeometry
from .tuning import CoulombParameters, resolve_method, tune
from .validation import check_charges, check_system


class CoulombOperator:
    """Linear map from charges ``[N]`` or ``[N, C]`` (e) to potentials (eV/e).

    :param positions: ``[N, 3]`` (Å). :param cell: ``[3, 3]`` rows are cell vectors (Å),
        or ``None``. :param pbc: three booleans. :param sigma: ``[N]`` Gaussian widths (Å)
        or ``None`` for point charges. :param method: strategy (``"auto"`` allowed).
    :param accuracy: relative accuracy for :func:`~.tuning.tune`.
    :param parameters: frozen :class:`~.tuning.CoulombParameters` (overrides ``method``
        and ``accuracy``); use them for smooth NPT dynamics.
    :param checked: the inputs already passed :func:`~.validation.check_system` (``cell`` and
        ``pbc`` as it returns them): a caller that validated them skips the second check.
    """

    def __init__(
        self,
        positions: torch.Tensor,
        cell: torch.Tensor | None = None,
        pbc=None,
        sigma: torch.Tensor | None = None,
        method: str = "auto",
        accuracy: float = 1e-6,
        parameters: CoulombParameters | None = None,
        *,
        checked: bool = False,
    ):
        if parameters is not None:
            method = parameters.method
        if not checked:
            cell, pbc = check_system(positions, cell, pbc, sigma, method)
        n_atoms = positions.shape[0]
        method = resolve_method(method, n_atoms, pbc)
        if parameters is None:
            parameters = tune(positions, cell, pbc, sigma, method, accuracy)
        self.parameters = parameters
        self.n_atoms = n_atoms
        self.device = positions.device
        self.pbc = pbc
        self.sigma = sigma
        self.parts = []
        self.slab = None
        self.background = None
        self.on_site = None
        if method == "direct":
            self.parts.append(DirectSum(positions, sigma))
            return
        smearing = parameters.smearing
        if not all(pbc):
            self.slab = SlabGeometry(positions, cell, pbc, parameters.vacuum, parameters.layer_k_max)
            cell = self.slab.cell
            pbc = (True, True, True)
            volume = self.slab.volume
        else:
            volume = cell_volume(cell)
        if parameters.cutoff > 0:
            pairs = build_pair_list(positions, cell, pbc, parameters.cutoff)
            self.parts.append(RealSpaceSum(pairs, positions, cell, sigma, smearing))
        if method == "ewald":
            self.parts.append(EwaldKSpace(positions, cell, smearing, parameters.k_max, volume))
        else:
            shape = mesh_shape(cell, parameters.mesh_spacing)
            self.parts.append(MeshKSpace(positions, cell, smearing, shape, parameters.order, method))
        self.on_site = self_coefficient(sigma, smearing)
        self.background = background_coefficient(smearing, volume)

    def __call__(self, charges: torch.Tensor) -> torch.Tensor:
        """Potential (eV/e), same shape as ``charges`` (e)."""
        single = charges.dim() == 1
        q = charges.unsqueeze(-1) if single else charges
        phi = self.parts[0](q)
        for part in self.parts[1:]:
            phi = phi + part(q)
        if self.background is not None:
            on_site = self.on_site
            if isinstance(on_site, torch.Tensor):
                on_site = on_site.unsqueeze(-1)
            phi = phi + on_site * q + self.background * q.sum(0)
        if self.slab is not None:
            phi = phi + self.slab(q)
        phi = COULOMB_CONSTANT * phi
        return phi.squeeze(-1) if single else phi

    def matrix(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The operator as a dense ``[N, N]`` matrix (eV/e²), ``φ = A q``; differentiable with respect
        to what the operator was built from. O(N²) memory: for the direct solve of small systems."""
        n = self.n_atoms
        device = self.device
        matrix = self.parts[0].matrix(n, dtype, device)
        for part in self.parts[1:]:
            matrix = matrix + part.matrix(n, dtype, device)
        if self.background is not None:
            on_site = self.on_site
            if isinstance(on_site, torch.Tensor):
                matrix = matrix + torch.diag_embed(on_site.to(dtype))
            else:
                matrix = matrix + on_site * torch.eye(n, dtype=dtype, device=device)
            matrix = matrix + self.background
        if self.slab is not None:
            matrix = matrix + self.slab.matrix(n, dtype, device)
        return COULOMB_CONSTANT * matrix

    def detached(self, dtype: torch.dtype = torch.float64):
        """The same operator for one charge vector ``[N]`` (e) → potential ``[N]`` (eV/e), without
        autograd and with every precomputed table cast to ``dtype`` once: the matrix-vector product
        of an iterative solver, which may run in float32 when its tolerance allows (see
        :mod:`.charge_equilibration.conjugate_gradient`).
        """
        parts = [part.detached(dtype) for part in self.parts]
        slab = None if self.slab is None else self.slab.detached(dtype)
        on_site = self.on_site
        if isinstance(on_site, torch.Tensor):
            on_site = on_site.detach().to(dtype)
        background = None if self.background is None else float(self.background)

        def apply(q: torch.Tensor) -> torch.Tensor:
            phi = parts[0](q)
            for part in parts[1:]:
                phi = phi + part(q)
            if background is not None:
                phi = phi + on_site * q + background * q.sum()
            if slab is not None:
                phi = phi + slab(q)
            return COULOMB_CONSTANT * phi

        return apply


def electrostatic_potential(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor | None = None,
    pbc=None,
    sigma: torch.Tensor | None = None,
    method: str = "auto",
    accuracy: float = 1e-6,
    parameters: CoulombParameters | None = None,
) -> torch.Tensor:
    r"""Per-atom electrostatic potential :math:`\phi_i = \partial E/\partial q_i` (eV/e).

    :param positions: ``[N, 3]`` Cartesian positions (Å).
    :param charges: ``[N]`` charges (e), or ``[N, C]`` for C independent charge channels
        (one potential per channel, useful for multi-channel long-range features).
    :param cell: ``[3, 3]`` cell, rows are the cell vectors (Å); ``None`` if non-periodic.
    :param pbc: three booleans; ``None`` means all ``True`` with a cell, else all ``False``.
        Supported: ``(F, F, F)``, ``(T, T, T)`` and slabs with exactly one ``False``.
    :param sigma: ``[N]`` Gaussian widths (Å), ``None`` for point charges.
    :param method: ``"auto"``, ``"direct"``, ``"ewald"``, ``"pme"`` or ``"p3m"``.
    :param accuracy: requested relative accuracy (default 1e-6).
    :param parameters: frozen parameters from :func:`~.tuning.tune` (overrides method and
        accuracy).
    :return: potential with the shape of ``charges`` (eV/e); the energy is
        :math:`\tfrac12\sum_i q_i\phi_i`.
    """
    check_charges(charges, positions.shape[0])
    operator = CoulombOperator(positions, cell, pbc, sigma, method, accuracy, parameters)
    return operator(charges)


def coulomb_energy(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor | None = None,
    pbc=None,
    sigma: torch.Tensor | None = None,
    method: str = "auto",
    accuracy: float = 1e-6,
    parameters: CoulombParameters | None = None,
) -> torch.Tensor:
    r"""Electrostatic energy (eV, scalar tensor) of Gaussian or point charges.

    .. math::

        E = \frac{k_e}2 \sum_{i,j}{}^{'} \sum_{\mathbf n} q_i q_j
        \frac{\operatorname{erf}\big(|\mathbf r_{ij} + \mathbf n\cdot\mathbf h| /
        \sqrt{2(\sigma_i^2+\sigma_j^2)}\big)}{|\mathbf r_{ij}+\mathbf n\cdot\mathbf h|}
        + \sum_i \frac{k_e\, q_i^2}{2\sqrt\pi\,\sigma_i},

    with :math:`k_e` = 14.399645 eV·Å/e², the prime excluding :math:`i = j` at
    :math:`\mathbf n = 0`, a neutralising background for net-charged periodic cells, and
    the Yeh–Berkowitz correction for slabs. Differentiable with respect to positions,
    cell, charges and sigma. Arguments as in :func:`electrostatic_potential`; ``charges``
    must be ``[N]``.
    """
    check_charges(charges, positions.shape[0])
    if charges.dim() != 1:
        raise ValueError(
            "coulomb_energy takes charges of shape [N]; use electrostatic_potential for channels"
        )
    phi = electrostatic_potential(positions, charges, cell, pbc, sigma, method, accuracy, parameters)
    return 0.5 * (charges * phi).sum()


def energy_forces_stress(
    positions: torch.Tensor,
    charges: torch.Tensor,
    cell: torch.Tensor | None = None,
    pbc=None,
    sigma: torch.Tensor | None = None,
    method: str = "auto",
    accuracy: float = 1e-6,
    parameters: CoulombParameters | None = None,
):
    r"""Energy (eV), forces ``[N, 3]`` (eV/Å) and stress ``[3, 3]`` (eV/Å³) at fixed charges.

    The stress follows ASE's sign convention, :math:`\sigma = \frac1V \partial E /
    \partial\varepsilon` (positions and cell strained together), as a full 3x3 tensor
    (:func:`~.stress.to_voigt` gives ASE's Voigt order xx, yy, zz, yz, xz, xy); ``V`` is
    the volume of the given cell. ``None`` for non-periodic systems. Returned tensors are
    detached.
    """
    from .stress import strain_derivatives

    def energy(pos, c):
        return coulomb_energy(pos, charges.detach(), c, pbc, sigma, method, accuracy, parameters)

    return strain_derivatives(energy, positions, cell, pbc)
