"""The calculator reads the total charge where the model's training data kept it, and warns (once per
calculator and kind) when a structure leaves what the model can use or was trained on."""

import warnings

import numpy as np
import pytest
from ase import Atoms

import lrcalc
from lrcalc import LRCalculator
from lrcalc.domain import TrainingDomain, TrainingDomainWarning
from lrcalc.structures import benzotriazole, bta_on_cu111
from structures import SHARED_DATA

DIMER = SHARED_DATA / "cace-lr-fit" / "charged_dimers" / "train-id2.xyz"


def domain_warnings(atoms, calc, what="energy"):
    atoms.calc = calc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = atoms.get_potential_energy()
    return value, [str(w.message) for w in caught if issubclass(w.category, TrainingDomainWarning)]


def test_the_training_domain_of_the_interface_models():
    domain = TrainingDomain.from_metadata(lrcalc.load_model("bta_cu.pt").metadata)
    assert domain.charge_keys == ["total_charge"] and domain.total_charge_range == (0.0, 0.0)
    assert domain.pbc == [(True, True, False)] and domain.pbc_override == [True, True, False]
    assert len(domain.compositions) == 1  # every frame is Cu32 + C6H5N3: one combination of shifts


def test_the_training_structure_and_its_repeats_raise_no_warning():
    calc = LRCalculator("bta_cu.pt")
    for atoms in (bta_on_cu111(), bta_on_cu111().repeat((2, 2, 1))):
        assert domain_warnings(atoms, calc)[1] == []


def test_a_recorded_charge_key_is_used_and_said():
    atoms = bta_on_cu111()
    atoms.info["total_charge"] = 1
    energy, messages = domain_warnings(atoms, LRCalculator("bta_cu.pt"))
    assert any("read from atoms.info['total_charge']" in m for m in messages)
    assert any("outside the range the model was trained on (0 to 0 e)" in m for m in messages)
    explicit = bta_on_cu111()
    explicit.info["charge"] = 1
    assert energy == pytest.approx(domain_warnings(explicit, LRCalculator("bta_cu.pt"))[0], abs=1e-8)
    # info["charge"] wins, and changing the recorded key invalidates the results
    calc = LRCalculator("bta_cu.pt")
    atoms.calc = calc
    e1 = atoms.get_potential_energy()
    atoms.info["total_charge"] = 0
    assert atoms.get_potential_energy() != e1


@pytest.mark.skipif(not DIMER.is_file(), reason="needs ../shared/data (cace-lr-fit charged dimers)")
def test_a_charged_dimer_read_as_stored_gets_its_charge():
    """train-id2.xyz stores the cation's charge as chargeA + chargeB (1 + 0): it is used, and the
    3-D periodicity the file was stored with (the models were trained without it) is reported."""
    from ase.io import read

    stored = read(DIMER, index=0)
    reference = stored.copy()
    reference.info["charge"] = 1
    energy, messages = domain_warnings(stored, LRCalculator("dimers_qeq.pt"))
    assert any("chargeA+chargeB" in m for m in messages)
    assert any("pbc=(True, True, True)" in m for m in messages)
    assert energy == pytest.approx(domain_warnings(reference, LRCalculator("dimers_qeq.pt"))[0], abs=1e-8)
    as_trained = reference.copy()
    as_trained.pbc = False  # as the model was trained: the DFT energy is −9914.719 eV
    assert domain_warnings(as_trained, LRCalculator("dimers_qeq.pt"))[0] == pytest.approx(-9914.719, abs=0.1)


def test_a_charge_the_model_cannot_use_is_reported():
    model = lrcalc.build_model({"species": ["H", "O"], "cutoff": 3.0, "num_layers": 1, "num_features": 4})
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    water.info["charge"] = -1
    _, messages = domain_warnings(water, LRCalculator(model))
    assert len(messages) == 1 and "no charge input and no long range" in messages[0]


def test_periodicity_and_composition_outside_the_training_data_warn_once():
    calc = LRCalculator("bta_cu.pt")
    _, messages = domain_warnings(benzotriazole(), calc)
    assert any("pbc=(False, False, False)" in m for m in messages)
    assert any("composition" in m and "meaningless" in m for m in messages)
    moved = benzotriazole()
    moved.positions += 0.1
    assert domain_warnings(moved, calc)[1] == []  # once per calculator
    stored_3d = bta_on_cu111()
    stored_3d.pbc = True  # a slab stored as 3-D periodic, as the data files hold them
    _, messages = domain_warnings(stored_3d, LRCalculator("bta_cu.pt"))
    assert len(messages) == 1 and "its frames were read with pbc=(True, True, False)" in messages[0]
    assert np.isfinite(_)
