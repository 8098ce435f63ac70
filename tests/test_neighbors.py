"""The neighbor list equals ASE's (an independent implementation) on every kind of cell."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list as ase_neighbor_list

from lrcalc.neighbors import neighbor_list

from structures import make_bulk_cu, make_molecule, make_slab, make_triclinic_crystal


def mixed_pbc():
    atoms = bulk("Cu", "fcc", a=3.61, orthorhombic=True).repeat((1, 2, 1))
    atoms.pbc = (True, False, True)
    atoms.rattle(0.1, seed=2)
    return atoms


def wire():
    atoms = Atoms("C3", positions=[[0, 0, 0], [1.3, 0.2, 0.0], [2.5, -0.1, 0.3]], cell=[3.8, 0, 0], pbc=(True, False, False))
    return atoms


@pytest.mark.parametrize(
    "make", [make_molecule, make_slab, make_triclinic_crystal, make_bulk_cu, mixed_pbc, wire],
    ids=["molecule", "slab", "triclinic-small-cell", "bulk", "pbc-TFT", "wire"],
)
@pytest.mark.parametrize("cutoff", [3.0, 5.0])
def test_same_pairs_as_ase(make, cutoff):
    atoms = make()
    i, j, shifts = neighbor_list(atoms.positions, atoms.cell[:], atoms.pbc, cutoff)
    i_ref, j_ref, shifts_ref = ase_neighbor_list("ijS", atoms, cutoff)
    ours = sorted(zip(i.tolist(), j.tolist(), map(tuple, shifts.tolist())))
    reference = sorted(zip(i_ref.tolist(), j_ref.tolist(), map(tuple, shifts_ref.tolist())))
    assert len(ours) > 0
    assert ours == reference


def test_torch_cluster_back_end_matches_vesin_for_molecules():
    pytest.importorskip("torch_cluster", reason="optional extra lrcalc[cluster] not installed")
    import lrcalc

    atoms = make_molecule()
    species = sorted(set(atoms.get_chemical_symbols()))
    pairs = {}
    for backend in ("vesin", "torch-cluster"):
        graph = lrcalc.atoms_to_graph(atoms, species, 3.0, neighbor_backend=backend)
        pairs[backend] = sorted(map(tuple, graph["edge_index"].T.tolist()))
        assert not graph["cell_shifts"].any()
    assert len(pairs["vesin"]) > 0 and pairs["vesin"] == pairs["torch-cluster"]


def test_torch_cluster_back_end_refuses_periodic_structures():
    import lrcalc
    from lrcalc import InputError

    with pytest.raises((InputError, ImportError)):
        lrcalc.atoms_to_graph(make_slab(), ["Cu", "C", "O"], 3.0, neighbor_backend="torch-cluster")


def test_unknown_back_end():
    import lrcalc

    with pytest.raises(ValueError, match="neighbor_backend must be one of"):
        lrcalc.atoms_to_graph(make_molecule(), ["C", "H", "O"], 3.0, neighbor_backend="kdtree")
