"""``lrcalc info MODEL``: a model file's config and metadata, without running it."""

from __future__ import annotations

import json


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "info",
        help="print a model file's config and metadata",
        description="Print the config (architecture, species, cutoff) and metadata (training data, "
        "measured errors, lrcalc version) of a model file, without running it.",
    )
    parser.add_argument("model", help="path to a model file, or the name of a shipped model (e.g. bta_cu.pt)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from ..model_file import read_model_file

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
