"""Analysis helpers against analytic cases."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.calculators.singlepoint import SinglePointCalculator

from lrcalc import analysis


def test_ideal_gas_rdf_is_one():
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(20):
        atoms = Atoms("Ar400", positions=rng.uniform(0, 20.0, (400, 3)), cell=[20.0] * 3, pbc=True)
        frames.append(atoms)
    r, g = analysis.partial_rdf(frames, "Ar", "Ar", r_max=8.0, bins=16)
    assert np.all(np.abs(g[4:] - 1.0) < 0.05)  # beyond 2 Å the statistics are tight
    assert abs(np.mean(g) - 1.0) < 0.05


def test_rdf_of_a_crystal_peaks_at_the_neighbor_distance():
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    r, g = analysis.partial_rdf(atoms, "Cu", "Cu", r_max=3.0, bins=60)
    assert abs(r[np.argmax(g)] - 3.61 / np.sqrt(2)) < 0.05


def trajectory(positions, cell=20.0, pbc=True, wrap=False):
    frames = []
    for p in positions:
        atoms = Atoms(f"Ar{len(p)}", positions=p, cell=[cell] * 3, pbc=pbc)
        if wrap:
            atoms.wrap()
        frames.append(atoms)
    return frames


@pytest.mark.parametrize("wrap", [False, True])
def test_ballistic_msd_grows_as_t_squared(wrap):
    rng = np.random.default_rng(1)
    velocities = rng.normal(size=(30, 3)) * 0.05  # Å/fs
    start = rng.uniform(0, 20, (30, 3))
    dt = 2.0
    frames = trajectory([start + velocities * k * dt for k in range(40)], wrap=wrap)
    t, msd = analysis.mean_squared_displacement(frames, dt)
    expected = (velocities**2).sum(axis=1).mean() * t**2
    np.testing.assert_allclose(msd, expected, rtol=1e-9, atol=1e-12)


def test_random_walk_gives_the_diffusion_coefficient():
    rng = np.random.default_rng(2)
    D, dt, steps = 0.01, 1.0, 400  # Å²/fs
    jumps = rng.normal(scale=np.sqrt(2 * D * dt), size=(steps, 500, 3))
    positions = np.concatenate([np.zeros((1, 500, 3)), np.cumsum(jumps, axis=0)])
    frames = trajectory(positions + 10.0, cell=1000.0)
    t, msd = analysis.mean_squared_displacement(frames, dt, max_lag=100)
    assert abs(analysis.diffusion_coefficient(t, msd) - D) < 0.08 * D


def test_energy_drift_of_a_known_line():
    t_fs = np.linspace(0, 5000, 101)
    energy = -100.0 + 2e-6 * t_fs  # eV; 2e-6 eV/fs = 2 meV/ps = 0.05 meV/atom/ps for 40 atoms
    assert abs(analysis.energy_drift(t_fs, energy, num_atoms=40) - 0.05) < 1e-10


def with_charges(atoms, charges):
    atoms.calc = SinglePointCalculator(atoms, energy=0.0, charges=np.asarray(charges, dtype=float))
    return atoms


def test_dipole_of_known_charges():
    atoms = with_charges(Atoms("NaCl", positions=[[0, 0, 0], [2.5, 0, 0]]), [0.8, -0.8])
    np.testing.assert_allclose(analysis.dipole_moment(atoms), [-2.0, 0, 0], atol=1e-12)


def test_charge_statistics_and_time_series():
    frames = [with_charges(Atoms("NaClNa", positions=np.eye(3) * 3), [0.5 + 0.1 * k, -1.0, 0.5 - 0.1 * k]) for k in range(3)]
    stats = analysis.charge_statistics(frames)
    assert stats["Na"]["atoms"] == 2 and abs(stats["Na"]["mean"] - 0.5) < 1e-12
    assert stats["Cl"]["std"] == 0.0 and stats["Na"]["max"] == pytest.approx(0.7)
    assert analysis.charge_time_series(frames).shape == (3, 3)


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0])
def test_tilt_and_height_of_a_planar_molecule(angle):
    from ase.build import fcc111

    slab = fcc111("Cu", size=(3, 3, 2), vacuum=8.0)
    ring = molecule("C6H6")  # lies in the xy plane
    ring.rotate(angle, "x", center="COM")
    top = slab.positions[:, 2].max()
    ring.translate([4.0, 3.0, top + 3.0] - ring.get_center_of_mass())
    atoms = slab + ring
    surface = list(range(len(slab)))
    molecule_atoms = list(range(len(slab), len(atoms)))
    assert analysis.molecule_tilt(atoms, molecule_atoms) == pytest.approx(angle, abs=1e-6)
    assert analysis.adsorption_height(atoms, molecule_atoms, surface) == pytest.approx(3.0, abs=1e-9)


def test_plots_are_written(tmp_path):
    from ase.build import bulk

    frames = [bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2) for _ in range(3)]
    for k, f in enumerate(frames):
        f.rattle(0.05, seed=k)
        with_charges(f, np.full(len(f), 0.01 * k))
    paths = [
        analysis.plot_rdf(frames, [("Cu", "Cu")], tmp_path / "rdf.png"),
        analysis.plot_msd(frames, 10.0, {"Cu": range(len(frames[0]))}, tmp_path / "msd.png"),
        analysis.plot_charges(frames, 10.0, tmp_path / "q.png"),
        analysis.plot_energy([0, 10, 20], [0.0, 0.1, 0.0], [1.0, 1.0, 1.01], 32, tmp_path / "e.png"),
    ]
    for path in paths:
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
