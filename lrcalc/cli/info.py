"""``lrcalc info MODEL``: a model file's config and metadata, without running it;
``lrcalc info --keys``: every config key (model and training), from the schemas that check them."""

from __future__ import annotations

import json


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "info",
        help="print a model file's config and metadata",
        description="Print the config (architecture, species, cutoff) and metadata (training data, "
        "measured errors, lrcalc version) of a model file, without running it.",
    )
    parser.add_argument("model", nargs="?",
                        help="path to a model file, or the name of a shipped model (e.g. bta_cu.pt)")
    parser.add_argument("--keys", action="store_true",
                        help="print every model and training config key with its default, allowed values "
                        "and meaning instead")
    parser.set_defaults(handler=run)


def print_config_keys() -> None:
    from ..config import MODEL_SCHEMA
    from ..training.config import SCHEMAS

    print("model config (build_model, and the 'model' section of a training config):\n")
    print(MODEL_SCHEMA.table())
    for name, schema in SCHEMAS.items():
        print(f"\ntraining config, section '{name}':\n")
        print(schema.table())


def run(args) -> int:
    from ..errors import ConfigError
    from ..model_file import read_model_file

    if args.keys:
        print_config_keys()
        return 0
    if args.model is None:
        raise ConfigError("give a model file (or a shipped model's name), or --keys")
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
