"""Cost of the short-range model: µs per atom per energy+forces+stress call, bulk Cu, 64–8000 atoms.

    python benchmarks/speed_sr.py [--max-atoms 8000] [--allocator tuned|default]

Model: 3 layers, l_max 1, 32 features, 5 Å cutoff, float32 and float64 (same weights). A "call"
is what an MD step pays through the ASE calculator: neighbor list, graph, energy, forces and stress.
Prints a table, the fitted scaling exponent of time against N (1 = linear) and the float64/float32
cost ratio, all measured in this run.
"""

from __future__ import annotations

import argparse
import platform

import torch

from _common import ensure_allocator, fit_exponent, median_time
from systems import bulk_cu

import lrcalc

CONFIG = {
    "species": ["Cu"],
    "cutoff": 5.0,
    "num_layers": 3,
    "l_max": 1,
    "num_features": 32,
    "avg_num_neighbors": 42.0,
}
# bulk Cu supercells of the 4-atom cubic cell: 64 ... 8000 atoms
REPEATS = [(2, 2, 4), (4, 4, 4), (6, 6, 6), (8, 8, 8), (10, 10, 10), (10, 10, 20)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-atoms", type=int, default=8000)
    parser.add_argument("--allocator", choices=["tuned", "default"], default="tuned")
    parser.add_argument("--dtypes", default="float32,float64")
    args = parser.parse_args()
    allocator = ensure_allocator(args.allocator == "tuned")
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, {allocator}")
    print(f"# model {CONFIG}")
    dtypes = args.dtypes.split(",")
    models = {d: lrcalc.build_model({**CONFIG, "dtype": d}) for d in dtypes}
    header = f"{'atoms':>6} {'edges':>8}" + "".join(f" {d + ' µs/atom':>16} {d + ' s/call':>14}" for d in dtypes)
    print(header)
    sizes, costs = [], {d: [] for d in dtypes}
    for repeat in REPEATS:
        atoms = bulk_cu(repeat)
        if len(atoms) > args.max_atoms:
            break
        atoms.rattle(0.05, seed=0)
        row = f"{len(atoms):>6}"
        for d in dtypes:
            calc = lrcalc.LRCalculator(models[d])

            def call():
                calc.calculate(atoms, ["energy", "forces", "stress"], ["positions"])

            seconds = median_time(call, repeats=3 if len(atoms) < 4000 else 2, budget_s=30)
            costs[d].append(seconds)
            if d == dtypes[0]:
                graph = lrcalc.atoms_to_graph(atoms, ["Cu"], CONFIG["cutoff"])
                row += f" {graph['edge_index'].shape[1]:>8}"
            row += f" {seconds / len(atoms) * 1e6:>16.1f} {seconds:>14.3f}"
        sizes.append(len(atoms))
        print(row, flush=True)
    for d in dtypes:
        print(f"# {d}: time ∝ N^{fit_exponent(sizes, costs[d]):.3f} over {sizes[0]}–{sizes[-1]} atoms; "
              f"from {sizes[-3]} atoms up: N^{fit_exponent(sizes[-3:], costs[d][-3:]):.3f}")
    if len(dtypes) == 2:
        ratios = [b / a for a, b in zip(costs[dtypes[0]], costs[dtypes[1]])]
        print(f"# {dtypes[1]}/{dtypes[0]} cost ratio at the largest size: {ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
