"""``lrcalc md`` and ``lrcalc relax``: MD and relaxations from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_MODEL = "bta_cu.pt"


def _structure(args):
    from ase.io import read

    from .structures import bta_on_cu111

    if args.structure is None:
        atoms = bta_on_cu111()
        print(f"structure: benzotriazole on Cu(111), {len(atoms)} atoms (lrcalc.structures.bta_on_cu111)")
    else:
        atoms = read(args.structure, index=-1)
        print(f"structure: {args.structure} (last frame), {len(atoms)} atoms, pbc={tuple(bool(p) for p in atoms.pbc)}")
    if args.charge is not None:
        atoms.info["charge"] = args.charge
    return atoms


def _common(parser):
    parser.add_argument("structure", nargs="?", default=None,
                        help="structure file readable by ASE (extxyz, POSCAR, cif, traj, ...); default: "
                             "benzotriazole on a 4x4x2 Cu(111) slab")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"model file or shipped model name (default {DEFAULT_MODEL}; `lrcalc info` describes one)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda (default cpu)")
    parser.add_argument("--charge", type=float, default=None,
                        help="total charge in e (default: the file's info['charge'], else 0)")
    parser.add_argument("--fix-bottom-layers", type=int, default=0, metavar="N",
                        help="hold the lowest N atomic layers fixed (slabs; default 0)")
    parser.add_argument("--output", default=None, help="output folder (default: md_output or relax_output)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_md_parser(commands) -> None:
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
               "ensembles: nve, langevin, nvt-bussi, nvt-nose-hoover, npt-mtk, npt-berendsen",
    )
    _common(parser)
    parser.add_argument("--ensemble", default="langevin",
                        choices=["nve", "langevin", "nvt-bussi", "nvt-nose-hoover", "npt-mtk", "npt-berendsen"])
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--steps", type=int, default=1000, help="number of steps (default 1000)")
    parser.add_argument("--interval", type=int, default=10, help="write a frame every N steps (default 10)")
    parser.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs (default 0.01)")
    parser.add_argument("--pressure", type=float, default=1.01325, help="NPT pressure, bar (default 1 atm)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--restart", action="store_true",
                        help="continue from the last frame of OUTPUT/md.traj, appending to its files")
    parser.set_defaults(handler=run_md)


def _prepare(args, default_output: str):
    """What both commands set up: allocator, output folder, structure with its calculator, and the
    indices of the fixed bottom layers (or ``None``)."""
    from . import md
    from .allocator import tune_allocator
    from .calculator import LRCalculator

    tune_allocator()  # long autograd runs: keep freed memory (see lrcalc.allocator)
    output = Path(args.output or default_output)
    output.mkdir(parents=True, exist_ok=True)
    atoms = _structure(args)
    atoms.calc = LRCalculator(args.model, device=args.device)
    fix = md.bottom_layers(atoms, args.fix_bottom_layers) if args.fix_bottom_layers else None
    return output, atoms, fix


def run_md(args) -> int:
    from . import md
    from .analysis import plot_md_log

    output, atoms, fix = _prepare(args, "md_output")
    result = md.run(
        atoms, args.ensemble, args.temperature, args.timestep, args.steps,
        trajectory=output / "md.traj", logfile=output / "md.csv", interval=args.interval,
        friction_per_fs=args.friction, pressure_bar=args.pressure, fix=fix, restart=args.restart,
        seed=args.seed, progress=not args.no_progress,
    )
    plot = plot_md_log(output / "md.csv", output / "md.png", num_atoms=len(atoms))
    print(f"ran {result.steps} steps ({result.first_step} → {result.first_step + result.steps}); "
          f"mean T {result.mean_temperature_K:.1f} K")
    print(f"wrote {result.trajectory}, {result.logfile}, {plot}")
    return 0


def add_relax_parser(commands) -> None:
    parser = commands.add_parser(
        "relax", help="relax a structure (positions, and optionally the cell)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Relax atomic positions (and the cell, or only its in-plane part for slabs) with "
                    "ASE's optimizers until the largest force is below --fmax. Writes the relaxed "
                    "structure (relaxed.extxyz) and the trajectory (relax.traj) to the output folder; "
                    "exits with code 3 when the allowed steps end first.",
        epilog="examples:\n"
               "  lrcalc relax                                   # BTA on Cu(111) with bta_cu.pt\n"
               "  lrcalc relax slab.extxyz --cell inplane --fix-bottom-layers 1 --fmax 0.02\n"
               "  lrcalc relax bulk.cif --cell full --optimizer BFGS",
    )
    _common(parser)
    parser.add_argument("--fmax", type=float, default=0.05, help="force threshold, eV/Å (default 0.05)")
    parser.add_argument("--optimizer", default="FIRE", choices=["FIRE", "BFGS", "LBFGS"])
    parser.add_argument("--cell", default="none", choices=["none", "full", "inplane"],
                        help="also relax the cell: full (3-D periodic) or inplane (slabs) (default none)")
    parser.add_argument("--steps", type=int, default=500, help="most optimizer steps (default 500)")
    parser.set_defaults(handler=run_relax)


def run_relax(args) -> int:
    import warnings

    from ase.io import write

    from .relax import RelaxationNotConverged, relax

    output, atoms, fix = _prepare(args, "relax_output")
    cell = {"none": False, "full": True, "inplane": "inplane"}[args.cell]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RelaxationNotConverged)
        result = relax(atoms, fmax=args.fmax, optimizer=args.optimizer, cell=cell, fix=fix, steps=args.steps,
                       trajectory=output / "relax.traj", progress=not args.no_progress)
    write(output / "relaxed.extxyz", atoms)
    print(f"energy {result.energy_eV:.6f} eV, largest force {result.fmax_eV_per_A:.4f} eV/Å after {result.steps} steps")
    print(f"wrote {output / 'relaxed.extxyz'}, {result.trajectory}")
    for warning in caught:
        if issubclass(warning.category, RelaxationNotConverged):
            print(f"lrcalc relax: not converged: {warning.message}")
            return 3
    return 0
