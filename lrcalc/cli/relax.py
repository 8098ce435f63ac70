"""``lrcalc relax [STRUCTURE]``: relax positions, and optionally the cell (:func:`lrcalc.relax`)."""

from __future__ import annotations

import argparse

from ..relaxation import OPTIMIZERS
from .common import add_structure_arguments, prepare_run

NOT_CONVERGED = 3
"""The exit code when the allowed steps end before the forces are below ``--fmax``."""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "relax", help="relax a structure (positions, and optionally the cell)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Relax atomic positions (and the cell, or only its in-plane part for slabs) with "
                    "ASE's optimizers until the largest force is below --fmax. Writes the relaxed "
                    "structure (relaxed.extxyz) and the trajectory (relax.traj) to the output folder; "
                    f"exits with code {NOT_CONVERGED} when the allowed steps end first.",
        epilog="examples:\n"
               "  lrcalc relax                                   # BTA on Cu(111) with bta_cu.pt\n"
               "  lrcalc relax slab.extxyz --cell inplane --fix-bottom-layers 1 --fmax 0.02\n"
               "  lrcalc relax bulk.cif --cell full --optimizer BFGS",
    )
    add_structure_arguments(parser)
    parser.add_argument("--fmax", type=float, default=0.05, help="force threshold, eV/Å (default 0.05)")
    parser.add_argument("--optimizer", default="FIRE", choices=OPTIMIZERS)
    parser.add_argument("--cell", default="none", choices=["none", "full", "inplane"],
                        help="also relax the cell: full (3-D periodic) or inplane (slabs) (default none)")
    parser.add_argument("--steps", type=int, default=500, help="most optimizer steps (default 500)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    import warnings

    from ase.io import write

    from ..relaxation import RelaxationNotConverged, relax

    output, atoms, fix = prepare_run(args, "relax_output")
    cell = {"none": False, "full": True, "inplane": "inplane"}[args.cell]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RelaxationNotConverged)
        result = relax(atoms, fmax=args.fmax, optimizer=args.optimizer, cell=cell, fix=fix, steps=args.steps,
                       trajectory=output / "relax.traj", progress=not args.no_progress)
    write(output / "relaxed.extxyz", atoms)
    print(f"energy {result.energy_eV:.6f} eV, largest force {result.fmax_eV_per_A:.4f} eV/Å "
          f"after {result.steps} steps")
    print(f"wrote {output / 'relaxed.extxyz'}, {result.trajectory}")
    for warning in caught:
        if issubclass(warning.category, RelaxationNotConverged):
            print(f"lrcalc relax: not converged: {warning.message}")
            return NOT_CONVERGED
    return 0
