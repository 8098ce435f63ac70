"""The ``lrcalc`` command line."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import ModelFileError


def _info(args) -> int:
    from .model_file import read_model_file

    path, payload = read_model_file(args.model)
    state = payload["state_dict"]
    num_parameters = sum(t.numel() for t in state.values())
    print(f"model file      {path}")
    print(f"format version  {payload['format_version']}")
    print(f"tensors         {len(state)} ({num_parameters} numbers)")
    print("config:")
    print(json.dumps(payload["config"], indent=2))
    print("metadata:")
    print(json.dumps(payload["metadata"], indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="lrcalc",
        description="Equivariant ML interatomic potentials with long-range electrostatics.",
    )
    parser.add_argument("--version", action="version", version=f"lrcalc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser(
        "info",
        help="print a model file's config and metadata",
        description="Print the config (architecture, species, cutoff) and metadata (training data, "
        "measured errors, lrcalc version) of a model file, without running it.",
    )
    info.add_argument("model", help="path to a model file, or the name of a shipped model (e.g. bta_cu.pt)")
    info.set_defaults(handler=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    try:
        return args.handler(args)
    except ModelFileError as error:
        print(f"lrcalc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
