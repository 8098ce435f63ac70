"""The neighbor list equals ASE's (an independent implementation) on every kind of cell, and a
brute-force enumeration on structures vesin alone cannot take (far atoms, very long cells)."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111, molecule
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


# --- Structures vesin's cell list cannot take as they are -----------------------------------------
#
# vesin 0.6.2 dies with SIGFPE (the whole process, exit 136) when its cell grid has more than 10⁵ cells
# and rescaling it leaves an axis with 0 cells: one atom 10⁶ Å from a molecule, a periodic cell
# longer than 10⁵ cutoffs, a sheet wider than ~316 cutoffs. neighbor_list splits such searches (or
# uses a larger radius along periodic axes) and refuses what it cannot do with an InputError. Every
# search below runs in a child process, so a regression fails these tests instead of killing pytest.

CUTOFF = 5.0
MOLECULE = [False] * 3
NO_CELL = np.zeros((3, 3))


def _far_structures():
    """{name: (positions, cell, pbc)}: legitimate structures that crashed vesin or needed care."""
    cases = {}
    mol = molecule("CH3CH2OH")
    far = mol.positions.copy()
    far[-1] += [0.0, 0.0, 1e6]
    cases["molecule, one atom 1e6 A away"] = (far, NO_CELL, MOLECULE)
    two = mol.positions.copy()
    two[-1] += [3e5, -7e5, 2e5]
    two[0] += [-1e6, 0.0, 0.0]
    cases["molecule, two atoms far away"] = (two, NO_CELL, MOLECULE)
    xs = np.concatenate([np.arange(0.0, 40.0, 3.0), 6e5 + np.arange(0.0, 40.0, 3.0), [1.2e6]])
    cases["two chains 6e5 A apart"] = (np.c_[xs, 0.0 * xs, 0.0 * xs], NO_CELL, MOLECULE)

    slab = fcc111("Cu", size=(2, 2, 3), vacuum=7.0)
    up = slab.positions.copy()
    up[3] += [0.0, 0.0, 1e6]
    cases["slab, atom 1e6 A up the vacuum"] = (up, slab.cell[:], [True, True, False])
    side = slab.positions.copy()
    side[3] += [1e6, -3e6, 0.0]
    cases["slab, atom 1e6 A away in-plane (wrapped)"] = (side, slab.cell[:], [True, True, False])
    crystal = bulk("Cu", "fcc", a=3.61, cubic=True)
    crystal.rattle(0.05, seed=1)
    moved = crystal.positions.copy()
    moved[1] += [1e6, 2e6, -5e5]
    cases["bulk, atom 1e6 A away (wrapped)"] = (moved, crystal.cell[:], [True] * 3)

    chain = np.array([[0.0, 0.0, 0.0], [1.5, 1.6, 2.0], [0.2, 0.1, 4e5]])
    cases["periodic cell 3 x 3.2 x 8e5 A"] = (chain, np.diag([3.0, 3.2, 8e5]), [True] * 3)
    wire = np.array([[0.0, 0.0, 0.0], [1.5, 1.0, 0.0], [0.5, 0.0, 9e5]])
    cases["wire, atom 9e5 A away"] = (wire, np.diag([3.0, 0.0, 0.0]), [True, False, False])

    # Triples of atoms scattered over a 2500 Å square, one layer: 500 × 500 cells at a 5 Å cutoff.
    centers = np.c_[np.random.default_rng(1).uniform(0.0, 2500.0, (60, 2)), np.zeros(60)]
    sheet = np.concatenate([centers, centers + [2.0, 1.0, 0.5], centers + [-1.0, 3.0, -0.5]])
    cases["sheet 2500 A wide"] = (sheet, NO_CELL, MOLECULE)
    cases["periodic sheet 2500 A wide"] = (sheet, np.diag([2500.0, 2500.0, 0.0]), [True, True, False])

    tilted = np.array([[3.1, 0.0, 0.0], [0.9, 3.3, 0.0], [0.6, 0.7, 7e5]])
    points = np.array([[0.0, 0.0, 0.0], [1.5, 1.7, 1.0], [-3e6, 4e6, 1e6]])
    cases["triclinic cell 7e5 A long, atom far away"] = (points, tilted, [True] * 3)
    cases["pbc (T, F, T), atom far away"] = (points, tilted * [[1.0], [0.0], [1.0]], [True, False, True])
    return cases


REFUSED = {
    "atom 2e9 A away": (np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2e9]]), NO_CELL, MOLECULE),
    "periodic cell 1e8 A long": (np.array([[0, 0, 0], [1.5, 1.6, 2]]), np.diag([3, 3.2, 1e8]), [True] * 3),
}


def _save_cases(cases: dict, path) -> list[str]:
    arrays = {"count": len(cases), "cutoff": CUTOFF}
    for k, (positions, cell, pbc) in enumerate(cases.values()):
        arrays.update({f"positions{k}": positions, f"cell{k}": cell, f"pbc{k}": np.asarray(pbc)})
    np.savez(path, **arrays)
    return list(cases)


_CHILD = """
import sys, numpy as np
from lrcalc import InputError
from lrcalc.neighbors import neighbor_list
data, out = np.load(sys.argv[1]), {}
for k in range(int(data["count"])):
    try:
        case = data[f"positions{k}"], data[f"cell{k}"], data[f"pbc{k}"], float(data["cutoff"])
        i, j, s = neighbor_list(*case)
        out[f"pairs{k}"] = np.c_[i, j, s]
    except InputError as error:
        out[f"error{k}"] = np.array(str(error))
np.savez(sys.argv[2], **out)
"""


def _in_subprocess(cases: dict, tmp_path) -> dict:
    """``neighbor_list`` of every case, computed in a child process: {name: pairs [E, 5] or message}."""
    names = _save_cases(cases, tmp_path / "cases.npz")
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "cases.npz"), str(tmp_path / "pairs.npz")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, (
        f"the neighbor search killed the process (exit {run.returncode}; -8 = SIGFPE inside vesin):\n"
        f"{run.stderr[-2000:]}"
    )
    results = np.load(tmp_path / "pairs.npz")
    return {
        name: (str(results[f"error{k}"]) if f"error{k}" in results else results[f"pairs{k}"])
        for k, name in enumerate(names)
    }


def brute_force_pairs(positions, cell, pbc, cutoff):
    """Every (i, j, S) with |r_j - r_i + S·cell| < cutoff, enumerated pair by pair (O(N²) × images)."""
    positions, cell, pbc = np.asarray(positions, float), np.asarray(cell, float), np.asarray(pbc, bool)
    n = len(positions)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    d = positions[j] - positions[i]
    periodic = np.flatnonzero(pbc)
    steps, base = [()], None
    if periodic.size:
        # d @ g: coefficients of d along the periodic vectors; |v| < cutoff bounds them for v = d + S·cell.
        g = np.linalg.pinv(cell[periodic])
        base = -np.round(d @ g).astype(np.int64)
        reach = int(np.ceil(cutoff * np.linalg.norm(g, axis=0).max())) + 1
        steps = itertools.product(range(-reach, reach + 1), repeat=periodic.size)
    found = []
    for step in steps:
        shifts = np.zeros((len(i), 3), dtype=np.int64)
        if periodic.size:
            shifts[:, periodic] = base + np.array(step)
        v = d + shifts @ cell
        keep = (np.einsum("ex,ex->e", v, v) < cutoff**2) & ((i != j) | shifts.any(axis=1))
        found += zip(i[keep].tolist(), j[keep].tolist(), map(tuple, shifts[keep].tolist()))
    return sorted(found)


@pytest.fixture(scope="module")
def far_results(tmp_path_factory):
    return _in_subprocess({**_far_structures(), **REFUSED}, tmp_path_factory.mktemp("far"))


@pytest.mark.parametrize("name", list(_far_structures()))
def test_far_atoms_and_long_cells_match_brute_force(far_results, name):
    positions, cell, pbc = _far_structures()[name]
    result = far_results[name]
    assert not isinstance(result, str), result
    ours = sorted((int(a), int(b), tuple(int(x) for x in s)) for a, b, *s in result.tolist())
    reference = brute_force_pairs(positions, cell, pbc, CUTOFF)
    assert len(reference) > 0
    assert ours == reference


def test_unsearchable_structures_get_an_input_error(far_results):
    assert "atom 2 is at z = 2e+09 Å" in far_results["atom 2e9 A away"]
    assert "beyond the 1e+09 Å" in far_results["atom 2e9 A away"]
    assert "periodic cell is too elongated" in far_results["periodic cell 1e8 A long"]


def test_error_names_the_element():
    from lrcalc import InputError

    positions, cell, pbc = REFUSED["atom 2e9 A away"]
    symbols = ["H", "H", "O"]
    with pytest.raises(InputError, match=r"^structure 3 of the batch: atom 2 \(O\) is at z = 2e\+09 Å"):
        neighbor_list(positions, cell, pbc, CUTOFF, symbols=symbols, label="structure 3 of the batch")
    bad = positions.copy()
    bad[1, 0] = np.nan
    with pytest.raises(InputError, match=r"atom 1 \(H\) has a non-finite"):
        neighbor_list(bad, cell, pbc, CUTOFF, symbols=symbols)


_VESIN_CHILD = """
import sys, numpy as np, vesin
data = np.load(sys.argv[1])
for k in range(int(data["count"])):
    vesin.NeighborList(cutoff=float(data["cutoff"]), full_list=True).compute(
        points=data[f"positions{k}"], box=data[f"cell{k}"], periodic=[bool(p) for p in data[f"pbc{k}"]],
        quantities="ijS",
    )
"""


def test_grids_predicted_safe_do_not_crash_vesin(tmp_path):
    """The crash predictor mirrors vesin's grid: what it calls safe, at the edge of a crash, must run
    with vesin itself (in a child process). Should a newer vesin size its grid otherwise, this fails
    here instead of a process dying later."""
    from lrcalc.neighbors import _face_distances, _open_directions, _vesin_grid_is_safe

    pair = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.2]])
    line = 1e5 / 1.01 * CUTOFF  # vesin gives two atoms this far apart 1.01·d/cutoff = 10⁵ cells
    edge = {
        "line, 1e5 cells": (np.array([[0.0, 0.0, 0.0], [0.0, 0.0, line]]), NO_CELL, MOLECULE),
        "line, above 1e5 cells": (np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0001 * line]]), NO_CELL, MOLECULE),
        "periodic 5e5 A": (pair, np.diag([3.0, 3.0, 1e5 * CUTOFF]), [True] * 3),
        "periodic 5.1e5 A": (pair, np.diag([3.0, 3.0, 1.02e5 * CUTOFF]), [True] * 3),
        "slab 1500 A": (pair, np.diag([1500.0, 1500.0, 0.0]), [True, True, False]),
        "slab 1600 A": (pair, np.diag([1600.0, 1600.0, 0.0]), [True, True, False]),
        "bulk 500 A (rescaled)": (pair, np.eye(3) * 500.0, [True] * 3),
        "cube 1e6 A (rescaled)": (np.array([[0.0, 0.0, 0.0], [1e6, 1e6, 1e6]]), NO_CELL, MOLECULE),
    }
    safe = {}
    for name, (positions, cell, pbc) in edge.items():
        pbc = np.asarray(pbc)
        lengths = _face_distances(positions, cell, pbc, _open_directions(cell, pbc, name))
        safe[name] = _vesin_grid_is_safe(lengths, CUTOFF)
    unsafe = [name for name, ok in safe.items() if not ok]
    assert unsafe == ["line, above 1e5 cells", "periodic 5.1e5 A", "slab 1600 A"]
    _save_cases({name: case for name, case in edge.items() if safe[name]}, tmp_path / "edge.npz")
    run = subprocess.run(
        [sys.executable, "-c", _VESIN_CHILD, str(tmp_path / "edge.npz")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, f"vesin crashed (exit {run.returncode}) on a safe grid: {run.stderr[-999:]}"
