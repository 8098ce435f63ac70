"""What the commands that run a model on one structure (``md``, ``relax``) share: the structure and
model arguments, reading the structure, and setting up the run."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

DEFAULT_MODEL = "bta_cu.pt"
PBC_WORDS = {"t": True, "true": True, "1": True, "f": False, "false": False, "0": False}


def pbc_argument(text: str) -> list[bool]:
    """``--pbc``: three booleans, e.g. ``T,T,F`` (a slab), ``F,F,F`` (a molecule), ``T,T,T``."""
    import argparse

    parts = [p.strip().lower() for p in text.replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 3 or any(p not in PBC_WORDS for p in parts):
        raise argparse.ArgumentTypeError(f"--pbc needs three booleans such as T,T,F (a slab), got {text!r}")
    return [PBC_WORDS[p] for p in parts]


def device_argument(text: str) -> str:
    """``--device``: a torch device that exists here (checked before anything runs)."""
    import argparse

    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device (cpu, cuda, cuda:1, …)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available on this machine (use cpu)")
    return str(device)


def add_pbc_argument(parser) -> None:
    parser.add_argument("--pbc", type=pbc_argument, default=None, metavar="X,Y,Z",
                        help="replace the periodicity read from the file, e.g. T,T,F for a slab stored as "
                             "3-D periodic (printed when applied)")


def add_structure_arguments(parser) -> None:
    """The structure, the model and what to do with them: arguments of ``md`` and ``relax``."""
    parser.add_argument("structure", nargs="?", default=None,
                        help="structure file readable by ASE (extxyz, POSCAR, cif, traj, ...); default: "
                             "benzotriazole on a 4x4x2 Cu(111) slab")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"model file or shipped model name (default {DEFAULT_MODEL}; "
                             "`lrcalc info` describes one)")
    parser.add_argument("--device", type=device_argument, default="cpu",
                        help="torch device: cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default=None,
                        help="float dtype of the network (default: the model's; geometry and "
                             "electrostatics are float64 either way)")
    parser.add_argument("--charge", type=float, default=None,
                        help="total charge in e (default: the file's info['charge'], else 0)")
    add_pbc_argument(parser)
    parser.add_argument("--fix-bottom-layers", type=int, default=0, metavar="N",
                        help="hold the lowest N atomic layers fixed (slabs; default 0)")
    parser.add_argument("--output", default=None, help="output folder (default: md_output or relax_output)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an output folder that already holds files (they are replaced)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_structure(args):
    """The structure of ``args.structure`` (its last frame; default BTA on Cu(111)) with
    ``args.charge`` as its total charge; prints what it read."""
    from ase.io import read

    from ..structures import bta_on_cu111

    if args.structure is None:
        atoms = bta_on_cu111()
        print(f"structure: benzotriazole on Cu(111), {len(atoms)} atoms (lrcalc.structures.bta_on_cu111)")
    else:
        if not Path(args.structure).is_file():
            raise InputError(f"structure file {args.structure!r} not found")
        try:
            atoms = read(args.structure, index=-1)
        except Exception as error:  # ase.io raises many kinds on foreign or damaged files
            raise InputError(f"{args.structure}: cannot read a structure from it with ase.io: {error}") from None
        pbc = tuple(bool(p) for p in atoms.pbc)
        print(f"structure: {args.structure} (last frame), {len(atoms)} atoms, pbc={pbc}")
    if args.pbc is not None:
        print(f"override: pbc={tuple(args.pbc)} instead of {tuple(bool(p) for p in atoms.pbc)} (--pbc)")
        atoms.pbc = args.pbc
    if args.charge is not None:
        print(f"override: total charge {args.charge:g} e (--charge)")
        atoms.info["charge"] = args.charge
    return atoms


def prepare_run(args, default_output: str, appends: bool = False):
    """The output folder, the structure with its calculator, and the indices of the fixed bottom
    layers (or ``None``).

    Everything a user can get wrong is checked before anything is written: the structure is read
    and evaluated once (unknown elements, overlapping atoms; MD reuses that evaluation), and an
    output folder that already holds files is refused unless ``--overwrite`` (or, for a run that
    ``appends`` to it, ``--restart``) is given. The folder is created last.
    """
    from .. import md
    from ..allocator import tune_allocator
    from ..calculator import LRCalculator

    tune_allocator()  # long autograd runs: keep freed memory (see lrcalc.allocator)
    if os.environ.get("LRCALC_MALLOC_TUNED") == "1":
        print("allocator: glibc MALLOC_*_ variables set for this run (LRCALC_MALLOC_TUNING=0 opts out)")
    output = Path(args.output or default_output)
    if output.exists() and not output.is_dir():
        raise InputError(f"output {str(output)!r} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not (args.overwrite or appends):
        raise InputError(f"output folder {str(output)!r} already holds files: give --overwrite to replace "
                         "them" + (" or --restart to continue the run" if hasattr(args, "restart") else "")
                         + ", or another --output")
    atoms = load_structure(args)
    atoms.calc = LRCalculator(args.model, device=args.device, dtype=args.dtype)
    if args.dtype is not None:
        print(f"model: {args.model} evaluated in {args.dtype}")
    atoms.get_forces()  # checks the structure against the model before any file is written
    fix = md.bottom_layers(atoms, args.fix_bottom_layers) if args.fix_bottom_layers else None
    output.mkdir(parents=True, exist_ok=True)
    return output, atoms, fix
