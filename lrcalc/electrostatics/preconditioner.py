r"""Preconditioners for the Qeq conjugate-gradient solve.

The Qeq matrix :math:`H = k_e A + \operatorname{diag}(J)` couples a local part with the
long-ranged Coulomb interaction, whose smooth (small-k) modes have eigenvalues
:math:`\sim 4\pi k_e n / k^2`: the condition number grows with the box length squared and
Jacobi-preconditioned CG needs ever more iterations. :class:`CoarseMeshPreconditioner`
approximates

.. math::

    H \approx D + W^{\mathsf T} T W,

with :math:`W` the P3M charge spreading onto a *coarse* mesh, :math:`T` a mesh operator
with symbol :math:`\lambda(\mathbf k) = k_e M\,[\hat G_{s_p}(\mathbf k)/U^2(\mathbf k) +
\Delta(\mathbf k)]/V`, where :math:`\hat G_{s}(k) = 4\pi e^{-k^2 s^2/2}/k^2`, :math:`s_p` is
a wide split (:data:`PRECONDITIONER_SMEARING` = 4 mean interatomic distances), :math:`U`
the assignment function and :math:`M` the mesh size, and :math:`\Delta = \hat
G_{s_{\mathrm{eff}}} - \hat G_{s_p}` (:math:`s_{\mathrm{eff}} = \sqrt{2\langle\sigma^2
\rangle}`, not deconvolved) the mean field of the short-range Gaussian interaction that
smooth charge modes feel (about 40 eV/e² at liquid density: leaving it out made the
iteration count grow with N). :math:`D_{ii} = J_i + k_e\big(1/(\sqrt\pi\sigma_i) -
\sqrt{2/\pi}/s_p\big)` is the on-site remainder, replaced by its harmonic mean over atoms.
Measured on the benchmark liquid (P3M, tolerance 1e-6): 21, 22, 22 and 21 iterations at
N = 4096, 10648, 32768 and 97336 (with a 3-distance split: 17, 16, 17, 26), against 48 or
more with Jacobi from N = 4096 on.

The Woodbury identity gives

.. math::

    H^{-1} \approx D^{-1} - D^{-1} W^{\mathsf T}\,\big(T^{-1} + W D^{-1} W^{\mathsf T}\big)^{-1}
    W D^{-1},

and :math:`W D^{-1} W^{\mathsf T}` is replaced by its translation-averaged symbol
:math:`c(\mathbf k) = (N/M)\langle D^{-1}\rangle U^2(\mathbf k)`, so that the middle factor
is the Fourier multiplier :math:`\lambda/(1 + \lambda c)`. Where atoms cluster the true
:math:`W D^{-1} W^{\mathsf T}` exceeds the average and the correction would overshoot (an
indefinite preconditioner on disordered structures); :math:`c` is therefore scaled by the
ratio of the largest to the mean coarse-mesh density of the atoms when that ratio exceeds
:data:`CLUSTERED` (a lattice keeps the plain average).

That global damping weakens the correction everywhere, by more the larger the structure (the densest
spot of a random structure gets denser with N): on random-uniform positions at 0.1 Å⁻³ the ratio
grew from 1.24 to 1.40 between 10⁴ and 4·10⁴ atoms and the iterations from 25 to 43 (accuracy
1e-4). So in 3-D periodic cells :math:`D^{-1}` is first made *local*: each atom's
:math:`D^{-1}_{ii}` is multiplied by a factor :math:`f_i` (:meth:`CoarseMeshPreconditioner.equalising_scale`)
that makes the spread-and-interpolated density :math:`W\,\mathrm{diag}(f)\,W^{\mathsf T}\mathbf 1`
the same at every atom, so :math:`W D^{-1} W^{\mathsf T}` is nearly translation invariant and its
average :math:`c(\mathbf k)` holds locally; the ratio then stays below :data:`CLUSTERED` and no damping
is applied. Measured (P3M, accuracy 1e-4, 2 threads): random-uniform 18, 17, 18 iterations at 10⁴,
4·10⁴, 10⁵ atoms (25, 43, 51 before); liquid-like 16, 15, 16 (21, 39, 49); the jittered lattice
unchanged (13, 15, 14). Slabs keep the uniform :math:`D` (in their padded cell it cost iterations). One application costs one
coarse-mesh spread, two small FFTs and one interpolation, a fraction of a Coulomb
operator application. :mod:`.charge_equilibration.preconditioning` projects the result onto
zero-sum vectors (:math:`z = Pr - \frac{\mathbf 1^{\mathsf T}Pr}{\mathbf 1^{\mathsf T}P\mathbf
1} P\mathbf 1`), which keeps it symmetric on the constraint plane.
"""

import math

import torch

from .constants import COULOMB_CONSTANT
from .kernels import long_range_fourier
from .pme import MeshKSpace, mesh_shape

#: Ratio of the largest to the mean coarse-mesh atom density from which a structure counts as
#: clustered (see :class:`CoarseMeshPreconditioner`): 1.02–1.03 for the jittered lattice of
#: ``benchmarks/electrostatics_scaling.py`` (10³–10⁵ atoms), 1.16–1.40 for its random-uniform and
#: liquid-like systems.
CLUSTERED = 1.1

#: Width of the coarse-mesh split, in units of the mean interatomic distance.
PRECONDITIONER_SMEARING = 4.0
#: Weight of the short-range mean-field term Δ(k) in the mesh symbol (see module).
MEAN_FIELD = 1.0
#: Fixed-point steps of the per-atom density equalisation (see module).
EQUALISATION_STEPS = 10
#: Largest factor by which an atom's D⁻¹ is raised where its neighbourhood is sparse.
MAX_EQUALISATION = 3.0


class JacobiPreconditioner:
    """:math:`z = D^{-1} r` with a given positive diagonal ``d`` (eV/e²)."""

    def __init__(self, diagonal: torch.Tensor):
        self.inv_diag = 1.0 / diagonal

    def astype(self, dtype: torch.dtype) -> "JacobiPreconditioner":
        """This preconditioner with its tables cast to ``dtype`` (in place)."""
        self.inv_diag = self.inv_diag.to(dtype)
        return self

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        return self.inv_diag * r


class CoarseMeshPreconditioner:
    """Woodbury preconditioner with a coarse-mesh long-range correction (see module).

    :param positions: ``[N, 3]`` (Å), detached. :param cell: ``[3, 3]`` (Å), detached,
        3-D periodic (slabs: the padded cell). :param hardness: ``[N]`` (eV/e²).
    :param sigma: ``[N]`` (Å) or ``None``. :param smearing: width setting the coarse mesh
        spacing (Å); default :data:`PRECONDITIONER_SMEARING` times the mean interatomic
        distance.
    :param mean_field: include the mean-field term Δ(k). It models a homogeneous density and
        suits 3-D periodic systems; for a slab in its padded cell it hurts (the BTA/Cu(111) slab
        of 2254 atoms, accuracy 1e-4: 65 iterations with it, 44 without, 50 with Jacobi).
    :param equalise: the largest density-equalising factor of an atom's D⁻¹ (module docstring), or
        ``None`` for the uniform D (slabs).
    """

    def __init__(self, positions, cell, hardness, sigma, smearing: float | None = None, mean_field: bool = True,
                 equalise: float | None = MAX_EQUALISATION):
        n = positions.shape[0]
        volume = torch.abs(torch.linalg.det(cell))
        if smearing is None:
            smearing = PRECONDITIONER_SMEARING * float((volume / n) ** (1.0 / 3.0))
        self.mesh = MeshKSpace(positions, cell, smearing, mesh_shape(cell, 0.7 * smearing, 4), order=4)
        on_site = -math.sqrt(2.0 / math.pi) / smearing
        if sigma is not None:
            on_site = on_site + 1.0 / (math.sqrt(math.pi) * sigma)
        diag = hardness + COULOMB_CONSTANT * on_site
        full = hardness + (0.0 if sigma is None else COULOMB_CONSTANT / (math.sqrt(math.pi) * sigma))
        # a uniform D (harmonic mean of the per-atom values) makes the translation average
        # c(k) of W D^-1 W^T accurate; with per-atom D the Woodbury correction of the
        # smoothest modes cancels 1/D to 1e-3 and the preconditioner became indefinite
        # (60 instead of 22 iterations at N = 32768)
        inv_diag = 1.0 / torch.maximum(diag, 0.25 * full)
        self.inv_diag = torch.full_like(inv_diag, float(inv_diag.mean()))
        filt = self.mesh.filter
        n_mesh = math.prod(self.mesh.shape)
        kh = (filt._kvectors @ cell.T) / torch.tensor(self.mesh.shape, dtype=cell.dtype)
        u2 = filt._charge_assignment(kh)
        symbol = filt._kfilter
        if sigma is not None and MEAN_FIELD and mean_field:
            s_eff = float(torch.sqrt(2.0 * (sigma**2).mean()))
            if s_eff < smearing:
                delta = long_range_fourier(filt._k_sq, s_eff) - long_range_fourier(filt._k_sq, smearing)
                symbol = symbol + MEAN_FIELD * delta
        lam = COULOMB_CONSTANT * n_mesh * symbol / volume
        c = (n / n_mesh) * self.inv_diag.mean() * u2
        # c(k) is the translation average of W D⁻¹ Wᵀ; where atoms cluster (close pairs, density
        # fluctuations of a liquid or an amorphous solid) the local W D⁻¹ Wᵀ exceeds it, the
        # Woodbury correction overshoots there and M⁻¹ became indefinite (random-uniform positions,
        # 2·10⁴ atoms: rᵀM⁻¹r < 0 for 66 of 160 CG residuals). Scaling c by the largest over the
        # mean mesh density of the atoms bounds the correction by the densest region: 1 on a
        # lattice (unchanged, below CLUSTERED), 1.16–1.40 for random positions (31 instead of 55
        # iterations at 2·10⁴ atoms, with Jacobi as the fallback it needed before).
        self.weights = self.mesh.weights
        density = self._spread(torch.ones(n, dtype=self.weights.dtype, device=self.weights.device))
        ratio = float(density.max() / density.mean())
        if equalise is not None and ratio > CLUSTERED:
            # Per-atom D⁻¹ scaled against the local coarse-mesh density, so that W D⁻¹ Wᵀ is nearly the
            # same everywhere and its translation average c(k) holds locally too (module docstring);
            # a lattice (ratio below CLUSTERED) needs none and skips its cost (0.5–0.7 s at 97k atoms)
            self.inv_diag = self.inv_diag * self.equalising_scale(n, equalise)
            density = self._spread(self.inv_diag) / self.inv_diag.mean()
            ratio = float(density.max() / density.mean())
        c = (n / n_mesh) * self.inv_diag.mean() * u2
        self.clustering = ratio if ratio > CLUSTERED else 1.0
        c = c * self.clustering
        self.multiplier = lam / (1.0 + lam * c) / n_mesh

    def astype(self, dtype: torch.dtype) -> "CoarseMeshPreconditioner":
        """This preconditioner with its tables cast to ``dtype`` (in place)."""
        self.inv_diag = self.inv_diag.to(dtype)
        self.weights = self.weights.to(dtype)
        self.multiplier = self.multiplier.to(dtype)
        return self

    def _spread(self, y: torch.Tensor) -> torch.Tensor:
        """Per-atom values ``[N]`` spread onto the coarse mesh (flattened ``[M]``)."""
        values = (self.weights * y.unsqueeze(0).unsqueeze(-1)).reshape(-1)
        return torch.zeros(math.prod(self.mesh.shape), dtype=y.dtype, device=y.device).index_add(
            0, self.mesh.index, values)

    def _interpolate(self, mesh_values: torch.Tensor) -> torch.Tensor:
        """Coarse-mesh values (flattened ``[M]``) interpolated at the atoms ``[N]`` (the transpose of
        :meth:`_spread`)."""
        m = self.mesh
        return (mesh_values.reshape(-1)[m.index].reshape(self.weights.shape[0], -1) * self.weights.squeeze(-1)).sum(0)

    def equalising_scale(self, n: int, largest: float) -> torch.Tensor:
        """Per-atom factors ``[N]`` (mean about 1, at most :data:`MAX_EQUALISATION`) that make the
        spread-and-interpolated density ``W diag(f) Wᵀ 1`` nearly the same at every atom: a few
        fixed-point steps f ← f·⟨ρ_f⟩/ρ_f from f = 1. On a lattice ρ is flat and f stays 1."""
        scale = torch.ones(n, dtype=self.weights.dtype, device=self.weights.device)
        for _ in range(EQUALISATION_STEPS):
            local = self._interpolate(self._spread(scale))
            scale = torch.clamp(scale * (local.mean() / local), max=largest)
        return scale

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        y = self.inv_diag * r
        m = self.mesh
        rho = self._spread(y).reshape(m.shape)
        smooth = torch.fft.irfftn(torch.fft.rfftn(rho) * self.multiplier, s=m.shape, norm="forward")
        back = self._interpolate(smooth)
        return y - self.inv_diag * back
