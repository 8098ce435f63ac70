"""MD and relaxation drivers: short runs (long validation runs live in benchmarks/)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.build import bulk, fcc111
from ase.io import read

import lrcalc
from lrcalc import LRCalculator, md
from lrcalc.relaxation import RelaxationNotConverged, relax

from structures import make_molecule, make_slab


def slab(model):
    atoms = make_slab()
    atoms.calc = LRCalculator(model)
    return atoms


@pytest.mark.parametrize("ensemble", ["nve", "langevin", "nvt-bussi"])
def test_restart_continues_the_trajectory_exactly(small_model, tmp_path, ensemble):
    straight = slab(small_model)
    md.run(straight, ensemble, 300, 1.0, 6, trajectory=tmp_path / "a.traj", logfile=None, interval=2,
           seed=5, progress=False)
    split = slab(small_model)
    md.run(split, ensemble, 300, 1.0, 3, trajectory=tmp_path / "b.traj", logfile=None, interval=2,
           seed=5, progress=False)
    resumed = slab(small_model)  # a fresh process would start from the input structure again
    result = md.run(resumed, ensemble, 300, 1.0, 3, trajectory=tmp_path / "b.traj", logfile=None, interval=2,
                    seed=5, progress=False, restart=True)
    assert result.first_step == 3
    np.testing.assert_allclose(resumed.positions, straight.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(resumed.get_momenta(), straight.get_momenta(), rtol=0, atol=1e-12)
    frames = read(tmp_path / "b.traj", ":")
    assert len(frames) == 1 + 2 + 2  # step 0, steps 2 and 3 (last), then 4 and 6 after the restart
    for frame in frames:  # every frame holds the stress of its structure (the calculator computes it once asked)
        fresh = frame.copy()
        fresh.calc = LRCalculator(small_model)
        np.testing.assert_allclose(frame.get_stress(), fresh.get_stress(), rtol=1e-9, atol=1e-12)


def test_fixed_atoms_do_not_move_and_log_is_written(small_model, tmp_path):
    atoms = slab(small_model)
    fixed = md.bottom_layers(atoms, 1)
    assert len(fixed) == 4  # a 2×2 layer
    start = atoms.positions[fixed].copy()
    result = md.run(atoms, "langevin", 500, 1.0, 5, trajectory=tmp_path / "md.traj", logfile=tmp_path / "md.csv",
                    interval=1, fix=fixed, progress=False)
    np.testing.assert_array_equal(atoms.positions[fixed], start)
    assert np.abs(atoms.get_momenta()[fixed]).max() == 0
    lines = (tmp_path / "md.csv").read_text().splitlines()
    assert lines[0].startswith("step,time_fs,epot_eV") and len(lines) == 1 + 6
    assert result.temperature_K.shape == (6,)


def test_charges_are_stored_in_every_frame(tmp_path):
    model = lrcalc.build_model({"species": ["H", "C", "O"], "cutoff": 3.0, "long_range": "qeq", "num_layers": 1,
                                "l_max": 1, "num_features": 4, "avg_num_neighbors": 5.0})
    atoms = make_molecule()
    atoms.info["charge"] = 1.0
    atoms.calc = LRCalculator(model)
    md.run(atoms, "nve", 300, 0.5, 4, trajectory=tmp_path / "q.traj", logfile=None, interval=2, progress=False)
    frames = read(tmp_path / "q.traj", ":")
    assert len(frames) == 3
    for frame in frames:
        assert abs(frame.get_charges().sum() - 1.0) < 1e-10


def test_npt_runs_on_a_bulk_cell(small_model, tmp_path):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms.calc = LRCalculator(small_model)
    for ensemble in ("npt-berendsen", "npt-mtk", "nvt-nose-hoover"):
        md.run(atoms, ensemble, 300, 1.0, 2, trajectory=tmp_path / f"{ensemble}.traj", logfile=None,
               progress=False)
    assert np.isfinite(atoms.get_potential_energy())


def test_bad_md_input(small_model, tmp_path):
    atoms = make_molecule()
    with pytest.raises(ValueError, match="no calculator"):
        md.run(atoms, "nve", steps=1, progress=False)
    atoms.calc = LRCalculator(small_model)
    with pytest.raises(ValueError, match="unknown ensemble 'nvp'"):
        md.run(atoms, "nvp", steps=1, progress=False)
    with pytest.raises(ValueError, match="needs a periodic cell"):
        md.run(atoms, "npt-berendsen", steps=1, trajectory=tmp_path / "x.traj", progress=False)
    with pytest.raises(FileNotFoundError, match="cannot restart"):
        md.run(atoms, "nve", steps=1, trajectory=tmp_path / "missing.traj", restart=True, progress=False)


def test_relax_reaches_fmax(small_model, tmp_path):
    atoms = make_molecule()
    atoms.calc = LRCalculator(small_model)
    result = relax(atoms, fmax=0.01, optimizer="BFGS", steps=300, trajectory=tmp_path / "r.traj", progress=False)
    assert result.converged and result.fmax_eV_per_A < 0.01
    assert np.sqrt((atoms.get_forces() ** 2).sum(axis=1)).max() < 0.01
    assert len(read(tmp_path / "r.traj", ":")) == result.steps + 1


def test_inplane_cell_relaxation_keeps_the_vacuum_axis(small_model, tmp_path):
    atoms = slab(small_model)
    c_before = atoms.cell[2].copy()
    result = relax(atoms, fmax=0.02, optimizer="FIRE", cell="inplane", fix=md.bottom_layers(atoms, 1),
                   steps=400, trajectory=None, progress=False)
    assert result.converged
    np.testing.assert_allclose(atoms.cell[2], c_before, atol=1e-12)
    # converged means every generalized force of FrechetCellFilter is below fmax, its cell forces being
    # the virial divided by cell_factor (the number of atoms): |σ_ab| V < fmax · N in-plane
    assert abs(atoms.get_stress()[[0, 1, 5]]).max() * atoms.cell.volume < 0.02 * len(atoms)


def test_relax_warns_when_it_does_not_converge(small_model):
    atoms = make_molecule()
    atoms.calc = LRCalculator(small_model)
    with pytest.warns(RelaxationNotConverged, match=r"did not converge: after 2 FIRE steps"):
        result = relax(atoms, fmax=1e-6, steps=2, trajectory=None, progress=False)
    assert not result.converged


def test_bad_relax_input(small_model):
    atoms = make_molecule()
    atoms.calc = LRCalculator(small_model)
    with pytest.raises(ValueError, match="unknown optimizer"):
        relax(atoms, optimizer="SD", progress=False, trajectory=None)
    with pytest.raises(ValueError, match='cell="inplane" is for slabs'):
        relax(atoms, cell="inplane", progress=False, trajectory=None)
