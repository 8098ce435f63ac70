"""The tutorial structures are sensible: composition, bond lengths, placement."""

from __future__ import annotations

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from lrcalc import analysis
from lrcalc.structures import benzotriazole, bta_on_cu111


def test_benzotriazole_composition_and_bonds():
    molecule = benzotriazole()
    assert molecule.get_chemical_formula() == "C6H5N3"
    i, j, d = neighbor_list("ijd", molecule, 1.6)
    assert len(i) // 2 == 15  # 6 benzene + 4 more in the fused triazole + 5 X–H bonds
    assert d.min() > 1.0 and d.max() < 1.45
    assert np.ptp(molecule.positions[:, 2]) < 1e-12  # planar
    assert np.linalg.norm(molecule.get_center_of_mass()) < 1e-12


def test_bta_on_cu111_matches_the_data_set_layout():
    atoms = bta_on_cu111()
    assert len(atoms) == 46 and atoms.get_chemical_formula() == "C6H5Cu32N3"
    assert tuple(atoms.pbc) == (True, True, False)
    np.testing.assert_allclose(atoms.cell.cellpar()[:2], [10.21, 10.21], atol=0.01)
    surface = [a.index for a in atoms if a.symbol == "Cu"]
    molecule = [a.index for a in atoms if a.symbol != "Cu"]
    lowest = atoms.positions[molecule, 2].min() - atoms.positions[surface, 2].max()
    assert abs(lowest - 3.0) < 1e-9  # ADSORPTION_HEIGHT
    assert analysis.molecule_tilt(atoms, molecule) < 1e-6
    upright = bta_on_cu111(upright=True)
    assert abs(analysis.molecule_tilt(upright, molecule) - 90) < 1e-6
    distances = upright.get_all_distances(mic=True)[np.triu_indices(46, 1)]
    assert distances.min() > 0.9


@pytest.mark.slow
def test_the_default_interface_relaxes_within_the_training_geometries():
    """Relaxed with the shipped bta_cu.pt, the default interface keeps the molecule where the training
    frames have it (lowest atom 2.0–2.9 Å above the top Cu layer), instead of pushing an H atom into
    the surface as it did from 2.6 Å."""
    import warnings

    import numpy as np

    from lrcalc import LRCalculator, md, relax
    from lrcalc.structures import bta_on_cu111

    atoms = bta_on_cu111()
    atoms.calc = LRCalculator("bta_cu.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converges, and stays inside the training domain
        result = relax(atoms, fmax=0.05, steps=300, fix=md.bottom_layers(atoms, 1), trajectory=None,
                       progress=False)
    assert result.converged
    copper = atoms.positions[atoms.numbers == 29, 2]
    top_layer = np.sort(copper)[-16:].mean()
    lowest = atoms.positions[atoms.numbers != 29, 2].min() - top_layer
    assert 2.0 < lowest < 3.0, lowest
