"""The ASE calculator: results, loading, global state, batches, and driving ASE's MD and optimizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta
from ase.optimize import BFGS

import lrcalc
from lrcalc import LRCalculator

from model_fixtures import SMALL_CONFIG, randomise_output_layers
from structures import make_bulk_cu, make_molecule, make_slab, make_triclinic_crystal


def test_results_are_consistent_numpy_arrays(small_model):
    slab = make_slab()
    slab.calc = LRCalculator(small_model)
    energy = slab.get_potential_energy()
    assert slab.get_potential_energy(force_consistent=True) == energy  # free_energy
    energies = slab.get_potential_energies()
    assert energies.shape == (len(slab),) and energies.dtype == np.float64
    assert abs(energies.sum() - energy) < 1e-10 * abs(energy)
    assert slab.get_forces().shape == (len(slab), 3)
    assert slab.get_stress().shape == (6,)


def test_stress_is_computed_once_asked_for(small_model):
    """Forces alone skip the strain derivatives; once stress is asked for, every later evaluation of
    the run computes it with the forces (one evaluation per step of a cell optimizer), and it equals
    the stress of a fresh calculator."""
    bulk = make_bulk_cu()
    calc = LRCalculator(small_model)
    bulk.calc = calc
    bulk.get_forces()
    assert "stress" not in calc.results
    stress = bulk.get_stress()
    reference = make_bulk_cu()
    reference.calc = LRCalculator(small_model)
    assert np.allclose(stress, reference.get_stress(), rtol=1e-10, atol=1e-12)
    bulk.positions[0] += 0.05
    evaluations = []
    original = calc.calculate
    calc.calculate = lambda *args, **kwargs: (evaluations.append(args), original(*args, **kwargs))[1]
    bulk.get_forces()
    assert "stress" in calc.results
    bulk.get_stress()
    assert len(evaluations) == 1
    reference.positions[0] += 0.05
    assert np.allclose(bulk.get_stress(), reference.get_stress(), rtol=1e-10, atol=1e-12)
    assert np.allclose(bulk.get_forces(), reference.get_forces(), rtol=1e-10, atol=1e-12)


def test_building_models_leaves_global_state_alone():
    dtype = torch.get_default_dtype()
    rng_state = torch.random.get_rng_state()
    for precision in ("float64", "float32"):
        model = lrcalc.build_model({**SMALL_CONFIG, "dtype": precision})
        assert model.dtype == getattr(torch, precision)
    assert torch.get_default_dtype() == dtype
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_same_seed_same_weights():
    a, b = lrcalc.build_model(SMALL_CONFIG), lrcalc.build_model(SMALL_CONFIG)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_float32_model_agrees_with_float64(small_model):
    model32 = randomise_output_layers(lrcalc.build_model({**SMALL_CONFIG, "dtype": "float32"}))
    model32.load_state_dict({k: v.float() for k, v in small_model.state_dict().items()})
    slab = make_slab()
    results = {}
    for name, model in (("64", small_model), ("32", model32)):
        atoms = slab.copy()
        atoms.calc = LRCalculator(model)
        results[name] = (atoms.get_potential_energy(), atoms.get_forces())
    assert abs(results["32"][0] - results["64"][0]) < 1e-4 * abs(results["64"][0]) + 1e-5
    np.testing.assert_allclose(results["32"][1], results["64"][1], atol=1e-4)


def test_batch_equals_one_structure_at_a_time(small_model):
    frames = [make_molecule(), make_slab(), make_triclinic_crystal(), make_bulk_cu()]
    graph = lrcalc.atoms_to_graph(frames, small_model.species, small_model.cutoff)
    out = small_model(graph, compute_forces=True, compute_stress=True)
    start = 0
    for b, atoms in enumerate(frames):
        single = small_model(lrcalc.atoms_to_graph(atoms, small_model.species, small_model.cutoff),
                             compute_forces=True, compute_stress=True)
        n = len(atoms)
        torch.testing.assert_close(out["energy"][b], single["energy"][0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(out["forces"][start:start + n], single["forces"], rtol=1e-12, atol=1e-12)
        if atoms.pbc.any():
            torch.testing.assert_close(out["stress"][b], single["stress"][0], rtol=1e-12, atol=1e-12)
        else:
            assert torch.isnan(out["stress"][b]).all()
        start += n


def test_drives_bfgs(small_model):
    atoms = make_molecule()
    atoms.calc = LRCalculator(small_model)
    e0 = atoms.get_potential_energy()
    optimizer = BFGS(atoms, logfile=None)
    optimizer.run(fmax=1e-3, steps=5)
    assert optimizer.nsteps == 5 or np.abs(atoms.get_forces()).max() < 1e-3
    assert atoms.get_potential_energy() < e0


def test_drives_langevin(small_model):
    atoms = make_slab()
    atoms.calc = LRCalculator(small_model)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = Langevin(atoms, 0.5 * units.fs, temperature_K=300, friction=0.02, fixcm=False,
                        rng=np.random.default_rng(1))
    start = atoms.positions.copy()
    dynamics.run(5)
    assert dynamics.nsteps == 5
    assert np.isfinite(atoms.get_potential_energy())
    assert not np.allclose(atoms.positions, start)


def test_accepts_a_model_file_path(small_model, tmp_path):
    path = lrcalc.save_model(small_model, tmp_path / "mine.pt")
    for given in (path, str(path)):
        assert LRCalculator(given).model.config == small_model.config


def test_short_range_total_charge_input():
    """With ``total_charge_input`` a short-range model reads atoms.info["charge"] (a cation and the
    neutral molecule differ); by default it ignores it; the key does not apply to Qeq models."""
    from ase.build import molecule

    def energy(model, charge):
        atoms = molecule("H2O")
        atoms.info["charge"] = charge
        atoms.calc = LRCalculator(model)
        return atoms.get_potential_energy()

    config = {"species": ["H", "O"], "cutoff": 4.0, "num_layers": 1, "num_features": 8, "dtype": "float64"}
    reading = lrcalc.build_model({**config, "total_charge_input": True})
    assert abs(energy(reading, 1.0) - energy(reading, 0.0)) > 1e-6
    ignoring = lrcalc.build_model(config)
    assert energy(ignoring, 1.0) == energy(ignoring, 0.0)
    with pytest.raises(lrcalc.ConfigError, match="do not apply to long_range='qeq'"):
        lrcalc.build_model({**config, "long_range": "qeq", "total_charge_input": True})
    with pytest.raises(lrcalc.ConfigError, match="total_charge_input"):
        lrcalc.build_model({**config, "total_charge_input": "yes"})
