"""``lrcalc md [STRUCTURE]``: molecular dynamics with ASE's integrators (:func:`lrcalc.md.run`)."""

from __future__ import annotations

import argparse

from ..md import ENSEMBLES
from .common import add_structure_arguments, prepare_run


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "md", help="run molecular dynamics with a model",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run MD with ASE's integrators and an lrcalc model, writing a trajectory (md.traj: "
                    "positions, velocities, energies, forces, charges), a CSV log (md.csv) and a plot "
                    "(md.png: temperature and energies against time) to the output folder.",
        epilog="examples:\n"
               "  lrcalc md --steps 2000                        # Langevin 300 K, BTA on Cu(111), bta_cu.pt\n"
               "  lrcalc md slab.extxyz --ensemble nvt-bussi --temperature 450 --fix-bottom-layers 1\n"
               "  lrcalc md --ensemble nve --timestep 0.5 --steps 10000 --interval 20\n"
               "  lrcalc md --output md_output --steps 2000 --restart   # 2000 more steps, same files\n"
               "ensembles: " + ", ".join(ENSEMBLES),
    )
    add_structure_arguments(parser)
    parser.add_argument("--ensemble", default="langevin", choices=ENSEMBLES)
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--steps", type=int, default=1000, help="number of steps (default 1000)")
    parser.add_argument("--interval", type=int, default=10, help="write a frame every N steps (default 10)")
    parser.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs (default 0.01)")
    parser.add_argument("--pressure", type=float, default=1.01325, help="NPT pressure, bar (default 1 atm)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--restart", action="store_true",
                        help="continue from the last frame of OUTPUT/md.traj, appending to its files")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from .. import md
    from ..analysis import plot_md_log

    from pathlib import Path

    from ..errors import InputError

    if args.restart and not (Path(args.output or "md_output") / "md.traj").is_file():
        raise InputError(f"--restart: there is no {Path(args.output or 'md_output') / 'md.traj'} to continue")
    output, atoms, fix = prepare_run(args, "md_output", appends=args.restart)
    result = md.run(
        atoms, args.ensemble, args.temperature, args.timestep, args.steps,
        trajectory=output / "md.traj", logfile=output / "md.csv", interval=args.interval,
        friction_per_fs=args.friction, pressure_bar=args.pressure, fix=fix, restart=args.restart,
        seed=args.seed, progress=not args.no_progress,
    )
    target = None if args.ensemble in ("nve",) else args.temperature
    plot = plot_md_log(output / "md.csv", output / "md.png", num_atoms=len(atoms), target_temperature_K=target)
    print(f"ran {result.steps} steps ({result.first_step} → {result.first_step + result.steps}); "
          f"mean T {result.mean_temperature_K:.1f} K")
    print(f"wrote {result.trajectory}, {result.logfile}, {plot}")
    return 0
