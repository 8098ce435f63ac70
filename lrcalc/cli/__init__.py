"""The ``lrcalc`` command line: one module per command.

============  ====================================================================================
module        command
============  ====================================================================================
``info``      ``lrcalc info MODEL``: a model file's config and metadata
``train``     ``lrcalc train CONFIG.yaml``: train a model (:func:`lrcalc.training.train`)
``evaluate``  ``lrcalc evaluate MODEL DATA``: errors on labelled data (:func:`lrcalc.training.evaluate`)
``models``    ``lrcalc models``: the shipped models with their test errors
``md``        ``lrcalc md [STRUCTURE]``: molecular dynamics (:mod:`lrcalc.md`)
``relax``     ``lrcalc relax [STRUCTURE]``: relaxation (:func:`lrcalc.relax`)
``ipi``       ``lrcalc ipi STRUCTURE``: a force client of an i-PI server (:mod:`lrcalc.ipi`)
``common``    what several commands share: the structure argument, the setup of an MD or relaxation
============  ====================================================================================

Each command module has ``add_parser(commands)``, which adds its subcommand to the ``argparse``
subparsers, and ``run(args) -> int``, the exit code. An error of lrcalc (bad model file, config or
input) ends a command with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from .. import __version__
from ..errors import ConfigError, InputError, ModelFileError
from . import evaluate, info, ipi, md, models, relax, train

COMMANDS = (info, train, evaluate, models, md, relax, ipi)
"""The command modules, in the order ``lrcalc --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrcalc",
        description="Equivariant ML interatomic potentials with long-range electrostatics.",
    )
    parser.add_argument("--version", action="version", version=f"lrcalc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def _one_line_warning(command: str):
    """Warnings of lrcalc (a structure outside the training domain, …) as one line each:
    ``lrcalc md: warning: …`` instead of Python's two-line form with a source location."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("lrcalc"):
            print(f"lrcalc {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return args.handler(args)
    except (ModelFileError, ConfigError, InputError) as error:
        print(f"lrcalc {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a reader that stopped early (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


RUNS_A_MODEL = ("train", "evaluate", "md", "relax", "ipi")
"""Commands that restart themselves with the tuned allocator environment (lrcalc.allocator)."""


def entry() -> None:
    """The ``lrcalc`` console script and ``python -m lrcalc``: a command that runs a model restarts
    itself once with glibc's allocator tuned through the environment (``LRCALC_MALLOC_TUNING=0`` or
    any ``MALLOC_*_`` variable of your own opts out), then :func:`main`."""
    argv = sys.argv[1:]
    if argv and argv[0] in RUNS_A_MODEL and not {"-h", "--help"} & set(argv):
        from ..allocator import reexec_with_tuned_environment

        reexec_with_tuned_environment([sys.executable, "-m", "lrcalc", *argv])
    sys.exit(main(argv))


__all__ = ["build_parser", "entry", "main"]
