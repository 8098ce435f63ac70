"""MD validation of a shipped model on BTA/Cu(111): NVE energy drift and Langevin temperature.

    python benchmarks/md_validation.py [--model bta_cu.pt] [--ps 5] [--dtype float64] [--repeat 1]

``--repeat R`` runs the relaxed slab repeated R×R in-plane (R = 3: 414 atoms, past the dense limit
of the charge solve, so the iterative solve with its float32 iterations, extrapolated starting
points and recycled search directions is what the energy conservation tests).

1. NVE, 0.5 fs steps, started from 300 K Maxwell–Boltzmann velocities, for ``--ps`` ps: the drift
   of the total energy (slope of a straight-line fit, meV/atom/ps); target < 0.5 in float64.
2. Langevin at 300 K (friction 0.01/fs) for the same time: the mean temperature over the run (and
   over its second half) against the target (within 5 %).
Prints a table and writes the energy and temperature plots next to the logs in benchmarks/out/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from _common import ensure_allocator

import lrcalc
from lrcalc import LRCalculator, analysis, md
from lrcalc.structures import bta_on_cu111


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bta_cu.pt")
    parser.add_argument("--ps", type=float, default=5.0, help="length of each run, ps")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=1, help="in-plane repeat of the relaxed slab")
    parser.add_argument("--out", default=None, help="folder for logs and plots (default benchmarks/out/...)")
    args = parser.parse_args()
    suffix = "" if args.repeat == 1 else f"_{args.repeat}x{args.repeat}"
    args.out = args.out or str(Path(__file__).parent / "out" / f"md_validation{suffix}")
    allocator = ensure_allocator()
    model = lrcalc.load_model(args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timestep = 0.5
    steps = int(round(args.ps * 1000 / timestep))

    atoms = bta_on_cu111()
    atoms.calc = LRCalculator(model, dtype=args.dtype)
    lrcalc.relax(atoms, fmax=0.05, steps=300, trajectory=None, progress=False)  # start near a minimum
    start = atoms.repeat((args.repeat, args.repeat, 1))
    print(f"# {allocator}; model {args.model} in {args.dtype}; {len(start)} atoms; {steps} steps of {timestep} fs per run")

    nve = start.copy()
    nve.calc = LRCalculator(model, dtype=args.dtype)
    run = md.run(nve, "nve", 300, timestep, steps, initial_temperature_K=300, interval=20,
                 trajectory=out / "nve.traj", logfile=out / "nve.csv", seed=1)
    drift = analysis.energy_drift(run.time_fs, run.total_energy, len(nve))
    fluctuation = np.std(run.total_energy) / len(nve) * 1000
    analysis.plot_energy(run.time_fs, run.potential_energy, run.total_energy, len(nve), out / "nve_energy.png")

    langevin = start.copy()
    langevin.calc = LRCalculator(model, dtype=args.dtype)
    run_l = md.run(langevin, "langevin", 300, timestep, steps, interval=20, trajectory=out / "langevin.traj",
                   logfile=out / "langevin.csv", seed=2)
    second_half = run_l.temperature_K[len(run_l.temperature_K) // 2:]
    analysis.plot_md_log(out / "langevin.csv", out / "langevin.png", num_atoms=len(langevin))

    print(f"{'run':>10} {'length ps':>10} {'result':>40} {'target':>22}")
    print(f"{'NVE':>10} {args.ps:>10.2f} {f'drift {drift:+.4f} meV/atom/ps (σ_E {fluctuation:.3f} meV/atom)':>40} {'|drift| < 0.5':>22}")
    whole = f"mean T {run_l.temperature_K.mean():.1f} K (run), {second_half.mean():.1f} K (2nd half)"
    print(f"{'Langevin':>10} {args.ps:>10.2f} {whole:>40} {'300 K ± 5 %':>22}")
    print(f"# plots: {out / 'nve_energy.png'}, {out / 'langevin.png'}")


if __name__ == "__main__":
    main()
