r"""Pure tensor kernels of the Gaussian-charge Coulomb interaction (no state).

A Gaussian charge distribution of total charge :math:`q_i` and width :math:`\sigma_i`
(Å) is :math:`\rho_i(\mathbf r) = q_i (2\pi\sigma_i^2)^{-3/2}
\exp(-|\mathbf r-\mathbf r_i|^2 / 2\sigma_i^2)`. Two of them interact through

.. math::

    K_{ij}(r) = \frac{\operatorname{erf}\!\big(r / (\sqrt{2}\, s_{ij})\big)}{r},
    \qquad s_{ij} = \sqrt{\sigma_i^2 + \sigma_j^2},

and each one carries the self-energy :math:`\tfrac12 q_i^2 K_{ii}(0) =
q_i^2 / (2\sqrt{\pi}\,\sigma_i)`. Point charges are the limit :math:`\sigma \to 0`
(:math:`K = 1/r`, no self-energy). All kernels here are in units of 1/Å; multiply by
:data:`~lrcalc.electrostatics.constants.COULOMB_CONSTANT` for eV/e².

Ewald-type strategies split :math:`1/r` with a Gaussian of width :math:`s` (the
*smearing*, Å) into a long-range part :math:`\operatorname{erf}(r/\sqrt2 s)/r`, summed in
reciprocal space with Fourier transform :math:`4\pi e^{-k^2 s^2/2}/k^2`, and the
remainder, summed in real space:

.. math::

    K^{\mathrm{sr}}_{ij}(r) = K_{ij}(r) - \frac{\operatorname{erf}(r/\sqrt2 s)}{r}
    = \frac{\operatorname{erfc}(r/\sqrt2 s) - \operatorname{erfc}(r/\sqrt2 s_{ij})}{r}.

This real-space remainder is also where per-atom widths enter: the reciprocal-space part
only ever sees point charges.
"""

import math

import torch

_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def pair_width(sigma_i: torch.Tensor, sigma_j: torch.Tensor) -> torch.Tensor:
    r"""Combined width :math:`s_{ij} = \sqrt{\sigma_i^2 + \sigma_j^2}` (Å)."""
    return torch.sqrt(sigma_i**2 + sigma_j**2)


def gaussian_coulomb(r: torch.Tensor, s_ij: torch.Tensor | None) -> torch.Tensor:
    r"""Full pair kernel :math:`\operatorname{erf}(r/\sqrt2 s_{ij})/r` (1/Å).

    ``s_ij=None`` means point charges (:math:`1/r`). ``r`` must be positive.
    """
    if s_ij is None:
        return 1.0 / r
    return torch.erf(r / (_SQRT2 * s_ij)) / r


def short_range(r: torch.Tensor, smearing: float, s_ij: torch.Tensor | None) -> torch.Tensor:
    r"""Real-space remainder :math:`K^{\mathrm{sr}}_{ij}(r)` of the Ewald split (1/Å).

    :param r: pair distances (Å), positive.
    :param smearing: Ewald splitting width :math:`s` (Å).
    :param s_ij: combined Gaussian widths (Å) or ``None`` for point charges.
    """
    result = torch.erfc(r / (_SQRT2 * smearing))
    if s_ij is not None:
        result = result - torch.erfc(r / (_SQRT2 * s_ij))
    return result / r


def long_range_fourier_nonzero(k_sq: torch.Tensor, smearing: float) -> torch.Tensor:
    r"""Fourier transform :math:`4\pi e^{-k^2 s^2/2}/k^2` of the long-range part (Å²) for
    :math:`k^2 > 0` only (explicit k-vectors that leave out k = 0: no guards, fewer operations)."""
    return 4.0 * math.pi * torch.exp(-0.5 * smearing**2 * k_sq) / k_sq


def long_range_fourier(k_sq: torch.Tensor, smearing: float) -> torch.Tensor:
    r"""Fourier transform :math:`4\pi e^{-k^2 s^2/2}/k^2` of the long-range part (Å²).

    The :math:`k = 0` term is set to zero (neutralising background).
    """
    safe = torch.where(k_sq == 0, torch.ones_like(k_sq), k_sq)
    return torch.where(k_sq == 0, torch.zeros_like(k_sq), long_range_fourier_nonzero(safe, smearing))


def self_coefficient(sigma: torch.Tensor | None, smearing: float | None) -> torch.Tensor | float:
    r"""Coefficient :math:`c_i` of the on-site potential :math:`\phi_i \mathrel{+}= c_i q_i` (1/Å).

    It collects the Gaussian self-energy :math:`1/(\sqrt\pi\,\sigma_i)` (absent for point
    charges) and, when an Ewald split of width :math:`s` is used, removes the
    self-interaction :math:`\sqrt{2/\pi}/s` contained in the reciprocal-space sum.
    """
    coefficient = 0.0
    if sigma is not None:
        coefficient = 1.0 / (math.sqrt(math.pi) * sigma)
    if smearing is not None:
        coefficient = coefficient - _SQRT_2_OVER_PI / smearing
    return coefficient


def background_coefficient(smearing: float, volume: torch.Tensor) -> torch.Tensor:
    r"""Potential per unit net charge from the neutralising background (1/Å).

    Omitting :math:`k=0` from the reciprocal sum places the system in a uniform
    background of charge :math:`-Q`; with the Gaussian split this adds
    :math:`E_{\mathrm{bg}} = -\pi s^2 Q^2 / V`, i.e. :math:`\phi_i \mathrel{+}=
    -2\pi s^2 Q / V`. The total is then independent of :math:`s`.
    """
    return -2.0 * math.pi * smearing**2 / volume
