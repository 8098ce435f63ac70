"""IR spectra from the dipole autocorrelation (lrcalc.analysis.ir_spectrum).

The reference is a diatomic harmonic oscillator: charges +q and −q on masses m₁ and m₂ joined by
a spring k (eV/Å²) vibrate at ω = √(k/μ), μ = m₁m₂/(m₁ + m₂), i.e. at the wavenumber ω/(2πc);
the trajectory is the exact solution sampled every ``DT_FS``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from lrcalc import analysis

EV_J, AMU_KG, C_CM_S = 1.602176634e-19, 1.66053906660e-27, 2.99792458e10
KB_EV = 8.617333262e-5
DT_FS, FRAMES = 1.0, 4096
RESOLUTION_CM = 1.0 / (FRAMES * DT_FS * 1e-15 * C_CM_S)  # 8.1 cm⁻¹: one bin of the run's transform


def wavenumber_cm(k_eV_A2: float, m1: float, m2: float) -> float:
    """ω/(2πc) (cm⁻¹) of a spring k (eV/Å²) between masses m1, m2 (amu), in SI units."""
    mu = m1 * m2 / (m1 + m2) * AMU_KG
    return math.sqrt(k_eV_A2 * EV_J / 1e-20 / mu) / (2 * math.pi * C_CM_S)


def oscillator_frames(oscillators, pbc=False, cell=None, frames=FRAMES):
    """Frames of independent oscillators, each ``(k, m1, m2, q, amplitude, axis, center)``; the
    atoms move along ``axis`` about ``center`` with their center of mass at rest."""
    t_s = np.arange(frames) * DT_FS * 1e-15
    rows = []
    for number, (k, m1, m2, q, amplitude, axis, center) in enumerate(oscillators):
        omega = 2 * math.pi * C_CM_S * wavenumber_cm(k, m1, m2)
        stretch = 1.0 + amplitude * np.cos(omega * t_s + 0.7 * number)  # bond length (Å)
        axis = np.asarray(axis, float) / np.linalg.norm(axis)
        first = np.asarray(center) - np.outer(stretch * m2 / (m1 + m2), axis)
        second = np.asarray(center) + np.outer(stretch * m1 / (m1 + m2), axis)
        rows.append((first, second, m1, m2, q))
    trajectory = []
    for step in range(frames):
        positions = [p[step] for first, second, *_ in rows for p in (first, second)]
        atoms = Atoms(positions=positions, masses=[m for *_, m1, m2, _ in rows for m in (m1, m2)],
                      pbc=pbc, cell=cell)
        atoms.set_initial_charges([c for *_, q in rows for c in (q, -q)])
        trajectory.append(atoms)
    return trajectory


def peak(wavenumber, intensity, near: float, width: float = 100.0) -> float:
    window = np.abs(wavenumber - near) < width
    return float(wavenumber[window][np.argmax(intensity[window])])


def band_area(wavenumber, intensity, center: float, width: float = 60.0) -> float:
    window = np.abs(wavenumber - center) < width
    return float(intensity[window].sum())


def test_one_oscillator_peaks_at_its_frequency():
    """O–H-like oscillator (k = 30 eV/Å², m = 1, 16 amu): 2944 cm⁻¹, found within a tenth of the
    resolution of the 4 ps run (measured: 0.19 cm⁻¹ of 8.1)."""
    expected = wavenumber_cm(30.0, 1.0, 16.0)
    frames = oscillator_frames([(30.0, 1.0, 16.0, 0.4, 0.05, (1, 1, 0), (0, 0, 0))])
    wavenumber, intensity = analysis.ir_spectrum(frames, DT_FS)
    assert intensity.max() == pytest.approx(1.0)
    found = wavenumber[np.argmax(intensity)]
    assert abs(found - expected) < 0.1 * RESOLUTION_CM
    assert wavenumber[-1] == pytest.approx(1.0 / (2 * DT_FS * 1e-15 * C_CM_S))  # Nyquist


def test_two_oscillators_give_two_peaks_of_equal_area():
    """Springs of 30 and 7.5 eV/Å² (same masses): peaks in the ratio √(k₁/k₂) = 2. At equipartition
    amplitudes (⟨x²⟩ = k_BT/k) a harmonic mode's intensity ∝ q²k_BT/μ does not depend on k: with
    the harmonic correction (ω² C̃) the two bands have the same area, to 3 % (measured: 0.1 %)."""
    kt = KB_EV * 300.0
    springs = (30.0, 7.5)
    frames = oscillator_frames([
        (k, 1.0, 16.0, 0.4, math.sqrt(2 * kt / k), axis, center)
        for k, axis, center in zip(springs, [(1, 0, 0), (0, 1, 1)], [(0, 0, 0), (30, 0, 0)])
    ])
    wavenumber, intensity = analysis.ir_spectrum(frames, DT_FS)
    expected = [wavenumber_cm(k, 1.0, 16.0) for k in springs]
    found = [peak(wavenumber, intensity, e) for e in expected]
    for f, e in zip(found, expected):
        assert abs(f - e) < 0.1 * RESOLUTION_CM
    assert found[0] / found[1] == pytest.approx(2.0, abs=0.2 * RESOLUTION_CM / found[1])
    areas = [band_area(wavenumber, intensity, e) for e in expected]
    assert areas[0] / areas[1] == pytest.approx(1.0, rel=0.03)
    quiet = (wavenumber > 100) & np.all([np.abs(wavenumber - e) > 100 for e in expected], axis=0)
    assert np.abs(intensity[quiet]).max() < 1e-3


def test_quantum_corrections_differ_by_their_stated_factor():
    """I_harmonic / I_none = βħω / (1 − e^{−βħω}) (up to normalisation). At 300 K, relative to the
    band at 1472 cm⁻¹, the one at 2944 cm⁻¹ is weakest without correction and strongest with
    Schofield's e^{βħω/2}, which grows faster than the harmonic factor."""
    frames = oscillator_frames([(30.0, 1.0, 16.0, 0.4, 0.05, (1, 0, 0), (0, 0, 0)),
                                (7.5, 1.0, 16.0, 0.4, 0.05, (0, 1, 0), (20, 0, 0))])
    wavenumber, harmonic = analysis.ir_spectrum(frames, DT_FS)
    _, none = analysis.ir_spectrum(frames, DT_FS, temperature_K=300.0, quantum_correction="none")
    _, schofield = analysis.ir_spectrum(frames, DT_FS, temperature_K=300.0, quantum_correction="schofield")
    x = 1.239841984e-4 * wavenumber / (KB_EV * 300.0)
    strong = np.abs(none) > 1e-2
    ratio = harmonic[strong] / none[strong]
    factor = x[strong] / -np.expm1(-x[strong])
    np.testing.assert_allclose(ratio / ratio[0], factor / factor[0], rtol=1e-9)
    hi, lo = (peak(wavenumber, s, wavenumber_cm(7.5, 1.0, 16.0)) for s in (none, harmonic))
    assert hi == lo  # the correction moves intensities, not peaks
    high, low = (np.abs(wavenumber - wavenumber_cm(k, 1.0, 16.0)) < 30 for k in (30.0, 7.5))
    ratios = [s[high].max() / s[low].max() for s in (none, harmonic, schofield)]
    assert ratios[0] < ratios[1] < ratios[2]


def test_slab_uses_the_normal_component_only():
    """A slab (pbc T,T,F): the oscillator along x (in the periodic plane) is invisible, the one
    along z shows; wrapping the in-plane coordinates changes nothing."""
    cell = [[12.0, 0, 0], [0, 12.0, 0], [0, 0, 30.0]]
    frames = oscillator_frames([(7.5, 1.0, 16.0, 0.4, 0.05, (0, 0, 1), (6, 6, 10)),
                                (30.0, 1.0, 16.0, 0.4, 0.05, (1, 0, 0), (11.5, 6, 10))],
                               pbc=(True, True, False), cell=cell, frames=1024)
    wavenumber, intensity = analysis.ir_spectrum(frames, DT_FS)
    alone = oscillator_frames([(7.5, 1.0, 16.0, 0.4, 0.05, (0, 0, 1), (6, 6, 10))],
                              pbc=(True, True, False), cell=cell, frames=1024)
    np.testing.assert_allclose(intensity, analysis.ir_spectrum(alone, DT_FS)[1], atol=1e-12)
    assert peak(wavenumber, intensity, wavenumber_cm(7.5, 1.0, 16.0)) == wavenumber[np.argmax(intensity)]
    for atoms in frames:
        atoms.wrap()
    np.testing.assert_allclose(analysis.ir_spectrum(frames, DT_FS)[1], intensity, atol=1e-12)
    dipoles = analysis.dipole_time_series(frames)
    assert np.all(dipoles[:, :2] == 0)


def test_dipole_sources_path_and_array(tmp_path):
    """A stored calculator dipole wins over the charges; a trajectory file and an array of dipoles
    give the same spectrum as the frames."""
    frames = oscillator_frames([(30.0, 1.0, 16.0, 0.4, 0.05, (1, 0, 0), (0, 0, 0))], frames=256)
    dipoles = analysis.dipole_time_series(frames)
    np.testing.assert_allclose(dipoles[:, 0], -0.4 * np.array([f.get_distance(0, 1) for f in frames]))
    reference = analysis.ir_spectrum(frames, DT_FS)
    np.testing.assert_allclose(analysis.ir_spectrum(dipoles, DT_FS)[1], reference[1])
    np.testing.assert_allclose(analysis.ir_spectrum(dipoles[:, 0], DT_FS)[1], reference[1])

    import ase.io

    path = tmp_path / "md.traj"
    ase.io.write(path, frames)
    np.testing.assert_allclose(analysis.ir_spectrum(path, DT_FS)[1], reference[1], atol=1e-12)

    stored = []
    for atoms, dipole in zip(frames, dipoles):
        atoms = atoms.copy()
        atoms.set_initial_charges(None)
        atoms.calc = SinglePointCalculator(atoms, dipole=2 * dipole)
        stored.append(atoms)
    np.testing.assert_allclose(analysis.dipole_time_series(stored), 2 * dipoles)
    stored[5].calc = None
    with pytest.raises(ValueError, match="frame 5 lacks a stored dipole"):
        analysis.dipole_time_series(stored)


def test_bad_input_is_refused():
    bulk = oscillator_frames([(30.0, 1.0, 16.0, 0.4, 0.05, (1, 0, 0), (5, 5, 5))], pbc=True,
                             cell=[10.0, 10.0, 10.0], frames=32)
    with pytest.raises(ValueError, match="3-D periodic"):
        analysis.ir_spectrum(bulk, DT_FS)
    short = oscillator_frames([(30.0, 1.0, 16.0, 0.4, 0.05, (1, 0, 0), (0, 0, 0))], frames=8)
    with pytest.raises(ValueError, match="at least 16 frames"):
        analysis.ir_spectrum(short, DT_FS)
    dipoles = np.random.default_rng(0).normal(size=(64, 3))
    with pytest.raises(ValueError, match="needs a positive temperature_K"):
        analysis.ir_spectrum(dipoles, DT_FS, quantum_correction="none")
    with pytest.raises(ValueError, match="timestep_fs"):
        analysis.ir_spectrum(dipoles, 0.0)
    with pytest.raises(ValueError, match="shape"):
        analysis.ir_spectrum(dipoles[:, :2], DT_FS)
    uncharged = [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]) for _ in range(32)]
    with pytest.raises(ValueError, match="no charges"):
        analysis.ir_spectrum(uncharged, DT_FS)


def test_ir_plot_is_written(tmp_path):
    frames = oscillator_frames([(30.0, 1.0, 16.0, 0.4, 0.05, (1, 0, 0), (0, 0, 0))], frames=256)
    path = analysis.plot_ir_spectrum(frames, DT_FS, tmp_path / "ir.png")
    assert (tmp_path / "ir.png").stat().st_size > 1000 and path.endswith("ir.png")
