r"""Infrared spectra from the dipole autocorrelation of an MD trajectory.

Linear response gives the absorption coefficient times the refractive index as the Fourier transform
of the autocorrelation of the total dipole :math:`\mathbf M` (e·Å),

.. math::

    \alpha(\omega)\,n(\omega) \;\propto\; \omega\,\big(1 - e^{-\beta\hbar\omega}\big)\,
    Q(\omega)\,\tilde C(\omega),\qquad
    \tilde C(\omega) = \int_{-\infty}^{\infty} \mathrm dt\; e^{-i\omega t}\,
    \langle \delta\mathbf M(0)\cdot\delta\mathbf M(t)\rangle,

where :math:`\delta\mathbf M = \mathbf M - \langle\mathbf M\rangle` (a permanent dipole does not
absorb), :math:`\tilde C` is the *classical* correlation of the MD trajectory and :math:`Q` the
quantum correction factor that maps it onto the quantum one. ``quantum_correction`` chooses
:math:`Q`:

- ``"harmonic"`` (default): :math:`Q = \beta\hbar\omega/(1 - e^{-\beta\hbar\omega})`, exact for a
  harmonic system (whose Kubo-transformed quantum correlation equals the classical one). The
  prefactor then becomes :math:`\beta\hbar\,\omega^2` and

  .. math:: I(\omega) \propto \omega^2\,\tilde C(\omega),

  independent of the temperature: the spectrum of the dipole derivative,
  :math:`\omega^2\tilde C = \int e^{-i\omega t}\langle\dot{\mathbf M}(0)\cdot\dot{\mathbf M}(t)\rangle`.
  This is the usual choice for MD spectra: it keeps the classical band intensities, which for
  harmonic modes do not depend on the frequency (equipartition), and needs no temperature.
- ``"schofield"``: :math:`Q = e^{\beta\hbar\omega/2}`, :math:`I \propto 2\omega\sinh(\beta\hbar\omega/2)
  \,\tilde C`; needs ``temperature_K``.
- ``"none"``: :math:`Q = 1`, :math:`I \propto \omega(1 - e^{-\beta\hbar\omega})\,\tilde C`: the
  classical correlation used as if it were the quantum one; it underestimates the intensity of modes
  with :math:`\hbar\omega \gg k_BT`. Needs ``temperature_K``.

The intensity is in arbitrary units, scaled so that its maximum is 1.

**Estimator.** From :math:`T` frames :math:`\Delta t` apart: the biased autocorrelation
:math:`C_k = \frac1T\sum_t \delta\mathbf M_t\cdot\delta\mathbf M_{t+k}` (by FFT) up to lag
:math:`K` (``max_lag_fs``, default the whole run), times a lag window :math:`w_k` (``"hann"``:
:math:`\cos^2(\pi k/2K)`; ``None``: 1), extended evenly to negative lags, zero-padded to
``zero_padding``·2K points and Fourier transformed. The resolution is about
:math:`1/(K\Delta t)` (:math:`\approx 33356/(K\Delta t/\mathrm{fs})` cm⁻¹, twice that for Hann's
main lobe); zero padding only samples the same spectrum on a finer grid. Frequencies are
wavenumbers :math:`\tilde\nu = \omega/2\pi c` (cm⁻¹) from 0 to the Nyquist limit
:math:`1/(2\Delta t\,c)`.

**Which dipole.** Per frame: ``atoms.calc.results["dipole"]`` when the calculator stored one (for
lrcalc's calculator, −∂E/∂𝓔 of a molecule: it includes the response of the charges; for a slab its
``normal_dipole``, the same derivative along the normal), else
:math:`\sum_i q_i\mathbf r_i` of the frame's charges (``calc.results["charges"]``, else the initial
charges), with the same source for every frame. Molecules (no periodic direction): the whole vector.
Slabs (two periodic directions): only the component along the normal of the periodic plane, which
does not change when an atom is wrapped in-plane. 3-D periodic cells are refused: the total dipole
of a periodic cell jumps whenever an atom crosses the boundary (compute dipoles of unwrapped molecules
yourself and pass them as an array). For a net-charged system the dipole depends on the origin;
its fluctuations do not while the total charge is constant.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._plot import figure, save
from .charges import _charges

#: Speed of light (cm/s).
SPEED_OF_LIGHT_CM_S = 2.99792458e10
#: Planck constant times the speed of light (eV·cm): ħω = hc ν̃.
PLANCK_C_EV_CM = 1.239841984e-4
#: Boltzmann constant (eV/K).
BOLTZMANN_EV_K = 8.617333262e-5
#: Fewest frames a spectrum is computed from.
MIN_FRAMES = 16

QUANTUM_CORRECTIONS = ("harmonic", "schofield", "none")
WINDOWS = ("hann", None)


def dipole_time_series(frames) -> np.ndarray:
    """``[T, 3]`` dipoles (e·Å) of a trajectory: ASE ``Atoms`` frames or a trajectory path.

    The source and the geometry rules are those of the module docstring; for slabs the vector
    keeps only its component along the normal of the periodic plane.
    """
    if isinstance(frames, (str, Path)):
        import ase.io

        frames = ase.io.read(frames, ":")
    frames = list(frames)
    if not frames:
        raise ValueError("the trajectory has no frames")
    from_calculator = _stored_dipole(frames[0]) is not None
    dipoles = []
    for number, atoms in enumerate(frames):
        normal = _dipole_direction(atoms, number)
        stored = _stored_dipole(atoms)
        if from_calculator != (stored is not None):
            raise ValueError(
                f"frame {number} {'lacks' if from_calculator else 'has'} a stored dipole and frame 0 "
                f"{'has' if from_calculator else 'lacks'} one: every frame needs the same source"
            )
        dipole = stored if from_calculator else _charges(atoms) @ atoms.positions
        dipoles.append(dipole if normal is None else (dipole @ normal) * normal)
    return np.array(dipoles, dtype=float)


def ir_spectrum(
    frames,
    timestep_fs: float,
    temperature_K: float | None = None,
    quantum_correction: str = "harmonic",
    window: str | None = "hann",
    zero_padding: int = 4,
    max_lag_fs: float | None = None,
):
    """Infrared spectrum ``(wavenumber_cm, intensity)`` from the dipole autocorrelation.

    :param frames: ASE ``Atoms`` frames, a trajectory path, or the dipoles themselves as an array
        ``[T, 3]`` (or ``[T]``, one component) in e·Å.
    :param timestep_fs: time between consecutive frames (fs).
    :param temperature_K: temperature (K) of the run; needed by the ``"schofield"`` and ``"none"``
        corrections, not used by ``"harmonic"``.
    :param quantum_correction: ``"harmonic"`` (intensity ∝ ω² C̃(ω)), ``"schofield"`` or
        ``"none"``: see the module docstring.
    :param window: lag window of the autocorrelation, ``"hann"`` or ``None`` (rectangular: finer
        lines, with side lobes).
    :param zero_padding: the transform is ``zero_padding`` times longer than the windowed
        correlation (≥ 1): a finer frequency grid, the same resolution.
    :param max_lag_fs: longest lag (fs) of the autocorrelation; shorter lags smooth a noisy
        spectrum at the cost of resolution. Default: the whole run.
    :return: wavenumbers (cm⁻¹, from 0 to the Nyquist limit) and the intensity α(ω)n(ω) in
        arbitrary units, maximum 1.
    """
    given_dipoles = isinstance(frames, np.ndarray) or (
        hasattr(frames, "__array__") and not isinstance(frames, (list, tuple))  # e.g. a torch tensor
    )
    if given_dipoles:
        dipoles = np.asarray(frames, dtype=float)
        if dipoles.ndim == 1:
            dipoles = dipoles[:, None]
        if dipoles.ndim != 2 or dipoles.shape[1] not in (1, 3):
            raise ValueError(f"dipoles must have shape [T, 3] or [T] (e·Å), got {list(dipoles.shape)}")
    else:
        dipoles = dipole_time_series(frames)
    if not np.isfinite(dipoles).all():
        raise ValueError("the dipoles contain NaN or infinite values")
    if not timestep_fs > 0:
        raise ValueError(f"timestep_fs must be positive, got {timestep_fs}")
    if quantum_correction not in QUANTUM_CORRECTIONS:
        raise ValueError(
            f"unknown quantum_correction {quantum_correction!r}; use one of {QUANTUM_CORRECTIONS}"
        )
    if quantum_correction != "harmonic" and not (temperature_K is not None and temperature_K > 0):
        raise ValueError(f"quantum_correction={quantum_correction!r} needs a positive temperature_K")
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; use 'hann' or None")
    if int(zero_padding) != zero_padding or zero_padding < 1:
        raise ValueError(f"zero_padding must be an integer ≥ 1, got {zero_padding}")
    frames_count = dipoles.shape[0]
    if frames_count < MIN_FRAMES:
        raise ValueError(
            f"an IR spectrum needs at least {MIN_FRAMES} frames (several periods of the slowest band), "
            f"got {frames_count}"
        )
    lags = frames_count if max_lag_fs is None else int(round(max_lag_fs / timestep_fs)) + 1
    if not MIN_FRAMES <= lags <= frames_count:
        raise ValueError(
            f"max_lag_fs={max_lag_fs} gives {lags} lags; it must lie between {MIN_FRAMES} lags and the run"
        )

    correlation = _autocorrelation(dipoles - dipoles.mean(axis=0), lags)
    if window == "hann":
        correlation = correlation * np.cos(0.5 * np.pi * np.arange(lags) / lags) ** 2
    size = 2 * lags * int(zero_padding)
    even = np.zeros(size)
    even[:lags] = correlation
    even[size - lags + 1 :] = correlation[1:][::-1]
    spectrum = np.fft.rfft(even).real * timestep_fs  # C̃(ω), e²Å²·fs
    wavenumber = np.fft.rfftfreq(size, d=timestep_fs * 1e-15) / SPEED_OF_LIGHT_CM_S

    intensity = spectrum * _prefactor(wavenumber, quantum_correction, temperature_K)
    peak = np.abs(intensity).max()
    return wavenumber, intensity / peak if peak > 0 else intensity


def plot_ir_spectrum(frames, timestep_fs, path="ir.png", max_wavenumber_cm: float | None = 4000.0,
                     **options) -> str:
    """Plot :func:`ir_spectrum` (``options`` are passed on) up to ``max_wavenumber_cm``."""
    wavenumber, intensity = ir_spectrum(frames, timestep_fs, **options)
    if max_wavenumber_cm is not None:
        keep = wavenumber <= max_wavenumber_cm
        wavenumber, intensity = wavenumber[keep], intensity[keep]
    fig, ax = figure()
    ax.plot(wavenumber, intensity, color="C0")
    ax.set_xlabel("wavenumber (cm⁻¹)")
    ax.set_ylabel("α(ω) n(ω) (arb. units)")
    ax.set_title(f"IR spectrum, {options.get('quantum_correction', 'harmonic')} quantum correction")
    ax.set_xlim(left=0)
    return save(fig, path)


def _stored_dipole(atoms):
    """The calculator's dipole (e·Å): ``dipole`` of a molecule, or a slab's ``normal_dipole`` times
    its unit normal (both −∂E/∂E_field of lrcalc's long-range models); ``None`` when it stored none."""
    results = atoms.calc.results if atoms.calc is not None else {}
    if results.get("dipole") is not None:
        return np.asarray(results["dipole"], dtype=float)
    if results.get("normal_dipole") is not None and int(np.sum(atoms.pbc)) == 2:
        a, b = atoms.cell[np.flatnonzero(atoms.pbc)]
        normal = np.cross(a, b)
        return float(results["normal_dipole"]) * normal / np.linalg.norm(normal)
    return None


def _dipole_direction(atoms, number: int):
    """``None`` for a molecule (the whole dipole), the unit normal of the periodic plane for a slab."""
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not pbc.any():
        return None
    if pbc.sum() == 2:
        a, b = atoms.cell[np.flatnonzero(pbc)]
        normal = np.cross(a, b)
        return normal / np.linalg.norm(normal)
    kind = "3-D periodic" if pbc.all() else "periodic along one axis"
    raise ValueError(
        f"frame {number} is {kind} (pbc={pbc.tolist()}): its total dipole is not defined (it jumps when an "
        "atom crosses the cell boundary). IR spectra need molecules (pbc all False) or slabs (two periodic "
        "directions); for bulk, pass dipoles of unwrapped molecules as an array"
    )


def _autocorrelation(signal: np.ndarray, lags: int) -> np.ndarray:
    """Biased estimate C_k = (1/T) Σ_t x_t·x_{t+k}, k < ``lags``, summed over components (FFT)."""
    frames_count = signal.shape[0]
    size = 1 << (2 * frames_count - 1).bit_length()  # no wrap-around
    transform = np.fft.rfft(signal, n=size, axis=0)
    full = np.fft.irfft((transform * transform.conj()).real, n=size, axis=0).sum(axis=1)
    return full[:lags] / frames_count


def _prefactor(wavenumber: np.ndarray, correction: str, temperature_K: float | None) -> np.ndarray:
    """ω(1 − e^{−βħω}) Q(ω) up to a constant, with ω as the wavenumber (cm⁻¹)."""
    if correction == "harmonic":
        return wavenumber**2
    x = PLANCK_C_EV_CM * wavenumber / (BOLTZMANN_EV_K * temperature_K)  # βħω
    if correction == "schofield":
        return 2.0 * wavenumber * np.sinh(0.5 * x)
    return wavenumber * -np.expm1(-x)
