"""Cost of long range: seconds per MD step (energy, forces, stress, charges) of the Qeq model
(NequIP-LR) and of the LOREM model (equivariant charges) against the short-range model, measured
back to back in this run.

    python benchmarks/speed_lr.py [--large-repeat 7] [--dtype float32] [--quick]

Systems: the 46-atom Cu(111) + benzotriazole slab (a frame of ../shared/data/cu_bta when present,
else a built one of the same composition), that cell repeated in-plane (7×7: 2254 atoms), and a
thick slab: 12 layers of Cu(111), 12×12 in-plane (1728 atoms, 10 Å of vacuum each side).
Models "of the same size": 3 interaction layers, l_max 1, 32 features; the Qeq model spends 2 layers
before the charge equilibration and 1 after it. A last pair compares a Qeq model with a 3 Å cutoff
against a short-range model with 5 Å (the seed paper's accuracy claim, here for cost). The LOREM
model has the same 3 local layers plus one long-range step with the default equivariant charges
(4 channels each of l = 0, 1, 2; Coulomb sums at accuracy 1e-4; no physical Coulomb term).
Target: Qeq ≤ 1.3× the short-range cost at the same cutoff. The two models of a row are timed
alternately, step by step (60 pairs on the small system, 15 on the large one; medians), each row in
a fresh process (run last in one process with all others, the large MD row gave 1.39; alone, 1.12).

Two protocols. "random": untrained models of the sizes above, each step a random displacement
(σ = 1e-3 Å per coordinate) followed by energy, forces, stress and charges; uncorrelated moves, so
the charge solve gains nothing from extrapolation. "MD": the shipped models of these sizes,
bta_cu.pt (Qeq) against bta_cu_sr.pt (short range), each running its own Langevin trajectory (300 K,
1 fs, from the same start), one step per call: what a user's MD run costs, with the smooth
trajectory the extrapolated starting points and recycled search directions of the charge solve
are made for. ``--quick`` runs only the small system with a short time budget (a check that the
script works, not a measurement).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from ase import Atoms

from _common import ensure_allocator
from systems import CU_BTA_SPECIES, cu_bta_interface

import lrcalc

SPECIES = CU_BTA_SPECIES


def interface() -> tuple[Atoms, str]:
    return cu_bta_interface()


def model(long_range: str, cutoff: float, dtype: str):
    config = {"species": SPECIES, "cutoff": cutoff, "l_max": 1, "num_features": 32, "dtype": dtype,
              "avg_num_neighbors": 30.0, "long_range": long_range}
    if long_range == "qeq":
        config.update(num_layers=2, num_layers_feedback=1)
    elif long_range == "lorem":
        config.update(num_layers=3, num_lr_steps=1)
    else:
        config.update(num_layers=3)
    return lrcalc.build_model(config)


def md_step(m, atoms):
    """A function doing one MD-like step: a small random displacement, then energy, forces, stress
    (and charges); the warm start of the charges applies as in MD."""
    calc = lrcalc.LRCalculator(m)
    atoms = atoms.copy()
    rng = np.random.default_rng(0)
    properties = ["energy", "forces", "stress"] + (["charges"] if "charges" in calc.model.outputs else [])

    def step():
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        calc.calculate(atoms, properties, ["positions"])

    return step


def md_trajectory_step(m, atoms):
    """A function advancing its own Langevin trajectory (300 K, 1 fs, friction 0.01/fs, fixed seeds)
    by one step: one evaluation of energy, forces, stress and charges per call."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta

    atoms = atoms.copy()
    atoms.calc = lrcalc.LRCalculator(m)
    atoms.get_stress()  # asked once, the calculator computes stress at every step (the protocol of the table)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = Langevin(atoms, 1.0 * units.fs, temperature_K=300, friction=0.01 / units.fs,
                        rng=np.random.default_rng(1), fixcm=False)
    return lambda: dynamics.run(1)


def paired_step_times(short_range, long_range, atoms, repeats, budget_s, protocol="random") -> tuple[float, float]:
    """Median seconds per step of both models, timed alternately (SR, LR, SR, LR, …) so that a
    slow drift of the machine affects both alike."""
    make = md_step if protocol == "random" else md_trajectory_step
    steps = (make(short_range, atoms), make(long_range, atoms))
    for step in steps:  # warm-up
        step()
        step()
    times = ([], [])
    start = time.perf_counter()
    for _ in range(repeats):
        for step, record in zip(steps, times):
            t0 = time.perf_counter()
            step()
            record.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return statistics.median(times[0]), statistics.median(times[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-repeat", type=int, default=7, help="in-plane repeat of the large slab")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--quick", action="store_true", help="small system only, short time budget")
    parser.add_argument("--row", type=int, default=None, help=argparse.SUPPRESS)  # one row (a child process)
    args = parser.parse_args()
    allocator = ensure_allocator()
    small, source = interface()
    large = small.repeat((args.large_repeat, args.large_repeat, 1))
    from ase.build import fcc111

    thick = fcc111("Cu", size=(12, 12, 12), vacuum=10.0)
    if args.row is None:
        print(f"# {allocator}; {torch.get_num_threads()} torch threads; models in {args.dtype}, Coulomb in float64; "
              "each row in a fresh process")
        print(f"# small system: {source}, {len(small)} atoms; large: {args.large_repeat}x{args.large_repeat} in-plane, "
              f"{len(large)} atoms")
        print(f"{'system':>8} {'atoms':>6} {'protocol':>9} {'comparison':>26} {'short-range s/step':>19} "
              f"{'long-range s/step':>18} {'LR/SR':>7} {'steps/s (LR)':>13}")
    rows = [("small", small, "qeq", 5.0, 5.0), ("large", large, "qeq", 5.0, 5.0),
            ("small", small, "qeq", 3.0, 5.0), ("large", large, "qeq", 3.0, 5.0),
            ("small", small, "lorem", 5.0, 5.0), ("large", large, "lorem", 5.0, 5.0),
            ("small", small, "md", 5.0, 5.0), ("large", large, "md", 5.0, 5.0),
            ("thick", thick, "qeq", 5.0, 5.0), ("thick", thick, "md", 5.0, 5.0)]
    budget_s = 90
    if args.quick:
        rows = [row for row in rows if row[0] == "small"]
        budget_s = 1
    names = {"qeq": "Qeq", "lorem": "LOREM", "md": "bta_cu vs bta_cu_sr"}
    selected = range(len(rows)) if args.row is None else [args.row]
    for index in selected:
        if args.row is None:  # every row in a fresh process: no row inherits another's heap or caches
            line = subprocess.run([sys.executable, __file__, "--row", str(index)] + sys.argv[1:],
                                  check=True, capture_output=True, text=True).stdout
            print(line.rstrip().splitlines()[-1], flush=True)
            continue
        name, atoms, long_range, lr_cutoff, sr_cutoff = rows[index]
        if long_range == "md":
            models, protocol = (lrcalc.load_model("bta_cu_sr.pt"), lrcalc.load_model("bta_cu.pt")), "MD"
            label = names[long_range]
        else:
            models = (model("none", sr_cutoff, args.dtype), model(long_range, lr_cutoff, args.dtype))
            protocol, label = "random", f"{names[long_range]} {lr_cutoff:g} Å vs SR {sr_cutoff:g} Å"
        sr_time, lr_time = paired_step_times(
            *models, atoms, repeats=60 if name == "small" else 15, budget_s=budget_s, protocol=protocol.lower(),
        )
        print(f"{name:>8} {len(atoms):>6} {protocol:>9} {label:>26} {sr_time:>19.4f} {lr_time:>18.4f} "
              f"{lr_time / sr_time:>7.2f} {1 / lr_time:>13.1f}", flush=True)

if __name__ == "__main__":
    main()
