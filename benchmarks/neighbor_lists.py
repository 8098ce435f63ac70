"""Neighbor-list back ends on bulk Cu (full list, 5 Å): vesin, matscipy and ASE.

    python benchmarks/neighbor_lists.py [--max-atoms 32000]

Prints ms per list and each back end's time relative to vesin (the one lrcalc uses), all measured
in this run. Every back end's pair list is checked against vesin's before it is timed.
"""

from __future__ import annotations

import argparse

import numpy as np
from ase.build import bulk
from ase.neighborlist import neighbor_list as ase_neighbor_list
from matscipy.neighbours import neighbour_list as matscipy_neighbour_list

from _common import ensure_allocator, median_time

from lrcalc.neighbors import neighbor_list as vesin_neighbor_list

CUTOFF = 5.0


def backends():
    return {
        "vesin": lambda a: vesin_neighbor_list(a.positions, a.cell[:], a.pbc, CUTOFF),
        "matscipy": lambda a: matscipy_neighbour_list("ijS", a, CUTOFF),
        "ase": lambda a: ase_neighbor_list("ijS", a, CUTOFF),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-atoms", type=int, default=32000)
    parser.add_argument("--ase-max-atoms", type=int, default=4000, help="ASE is slow: skip it above this")
    args = parser.parse_args()
    allocator = ensure_allocator()
    print(f"# {allocator}; bulk fcc Cu a=3.61 Å, cutoff {CUTOFF} Å, full list; median of 3")
    print(f"{'atoms':>7} {'pairs':>9} {'vesin ms':>9} {'matscipy ms':>12} {'ase ms':>9} {'matscipy/vesin':>15} {'ase/vesin':>10}")
    for repeat in (4, 6, 8, 12, 16, 20):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
        if len(atoms) > args.max_atoms:
            break
        atoms.rattle(0.05, seed=0)
        reference = None
        times = {}
        for name, run in backends().items():
            if name == "ase" and len(atoms) > args.ase_max_atoms:
                times[name] = float("nan")
                continue
            i, j, shifts = run(atoms)
            pairs = sorted(zip(i.tolist(), j.tolist(), map(tuple, np.asarray(shifts).tolist())))
            if reference is None:
                reference = pairs
            elif pairs != reference:
                raise SystemExit(f"{name} disagrees with vesin at {len(atoms)} atoms")
            times[name] = median_time(lambda: run(atoms), repeats=3) * 1e3
        print(
            f"{len(atoms):>7} {len(reference):>9} {times['vesin']:>9.2f} {times['matscipy']:>12.2f} "
            f"{times['ase']:>9.1f} {times['matscipy'] / times['vesin']:>15.2f} {times['ase'] / times['vesin']:>10.1f}"
        )


if __name__ == "__main__":
    main()
