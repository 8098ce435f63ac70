"""The ``lrcalc`` command line."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import ConfigError, InputError, ModelFileError


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


def _train(args) -> int:
    from .allocator import tune_allocator
    from .training.trainer import train

    tune_allocator()  # this process runs autograd for hours: keep freed memory (see the module)

    progress = False if args.no_progress else None
    result = train(args.config, resume=args.resume, device=args.device, progress=progress,
                   stop_after_epochs=args.stop_after_epochs)
    if not result["completed"]:
        print(f"stopped after epoch {result['epoch']}; continue with: lrcalc train {args.config} --resume")
    return 0


def _evaluate(args) -> int:
    from .allocator import tune_allocator
    from .training.evaluate import evaluate, format_table

    tune_allocator()

    keys = {"energy_key": args.energy_key, "forces_key": args.forces_key, "stress_key": args.stress_key,
            "charges_key": args.charges_key, "total_charge_key": args.total_charge_key}
    result = evaluate(args.model, args.data, subset=args.indices, keys=keys, batch_size=args.batch_size,
                      device=args.device, plot_dir=args.plot)
    print(format_table(result))
    for path in result["plots"]:
        print(f"wrote {path}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


def trainable_parameters(config: dict) -> int:
    """Number of trainable parameters of a model built from ``config`` (buffers excluded)."""
    from .build import build_model

    return sum(p.numel() for p in build_model(config).parameters())


def model_summary(path, payload) -> dict:
    """Key numbers of a model file for ``lrcalc models``: method, cutoff, size and test errors."""
    config, metadata = payload["config"], payload["metadata"]
    test = (metadata.get("training") or {}).get("test_metrics") or {}
    def error(label, scale):
        value = (test.get(label) or {}).get("rmse")
        return None if value is None else value * scale
    return {
        "name": path.name,
        "long_range": config.get("long_range", "none"),
        "cutoff": config["cutoff"],
        "species": " ".join(config["species"]),
        "dtype": config["dtype"],
        "parameters": trainable_parameters(config),
        "energy_rmse_meV_atom": error("energy", 1000),
        "forces_rmse_meV_A": error("forces", 1000),
        "charges_rmse_me": error("charges", 1000),
        "description": metadata.get("description", ""),
    }


def _models(args) -> int:
    from .model_file import read_model_file, shipped_model_dirs, shipped_models

    paths = shipped_models()
    if not paths:
        print("no shipped models found in " + ", ".join(map(str, shipped_model_dirs())))
        return 1
    def show(value, spec):
        return "—" if value is None else format(value, spec)
    print(f"{'model':<24} {'method':<6} {'cutoff':>6} {'dtype':<8} {'params':>8} {'E meV/atom':>10} "
          f"{'F meV/Å':>8} {'q me':>6}  species / description")
    for path in paths:
        row = model_summary(*read_model_file(path))
        print(f"{row['name']:<24} {row['long_range']:<6} {row['cutoff']:>5g}Å {row['dtype']:<8} {row['parameters']:>8} "
              f"{show(row['energy_rmse_meV_atom'], '.2f'):>10} {show(row['forces_rmse_meV_A'], '.1f'):>8} "
              f"{show(row['charges_rmse_me'], '.1f'):>6}  {row['species']}; {row['description']}")
    print("errors: RMSE on each model's test split (lrcalc evaluate); cards: models/README.md")
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

    train = commands.add_parser(
        "train",
        help="train a model from a YAML config",
        description="Train a model as a YAML config describes (sections model, data, training, output; "
        "every key is documented in lrcalc.training.config). The run directory gets config.yaml, "
        "split.json, checkpoint.pt (every epoch), best.pt (a model file), metrics.jsonl and "
        "learning_curves.png. For data-parallel training launch it with torchrun, e.g. "
        "'torchrun --nproc_per_node=2 -m lrcalc train CONFIG.yaml'.",
    )
    train.add_argument("config", help="training config (YAML)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in output.directory from its last checkpoint "
                       "(starts afresh if there is none)")
    train.add_argument("--device", default=None, help="overrides training.device (cpu, cuda, cuda:1, auto)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--stop-after-epochs", type=int, default=None, metavar="N",
                       help="return after N epochs of this call (continue later with --resume)")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="errors of a model on labelled data",
        description="Print RMSE and MAE of energy (meV/atom), forces (meV/Å), stress (meV/Å³) and charges "
        "(me) for the labels the data holds and the model predicts. Label keys default to those the "
        "model was trained with.",
    )
    evaluate.add_argument("model", help="model file or shipped model name")
    evaluate.add_argument("data", help="labelled data file (extxyz or anything ase.io reads)")
    evaluate.add_argument("--indices", default=None, metavar="FILE[:SET]",
                          help="evaluate a subset: a set of a split file (split.json:test) or a JSON list")
    evaluate.add_argument("--plot", default=None, metavar="DIR", help="write parity plots (PNG) to DIR")
    evaluate.add_argument("--json", default=None, metavar="FILE", help="also write the metrics as JSON")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--energy-key", default=None)
    evaluate.add_argument("--forces-key", default=None)
    evaluate.add_argument("--stress-key", default=None)
    evaluate.add_argument("--charges-key", default=None,
                          help="per-atom reference charges, e.g. initial_charges")
    evaluate.add_argument("--total-charge-key", default=None, help="atoms.info key of the total charge")
    evaluate.set_defaults(handler=_evaluate)

    listing = commands.add_parser(
        "models", help="list the shipped models with their test errors",
        description="List the models shipped with lrcalc (usable by bare name, e.g. "
                    "LRCalculator('bta_cu.pt')) with method, cutoff, size and test-set RMSEs.",
    )
    listing.set_defaults(handler=_models)

    from .cli_md import add_md_parser, add_relax_parser

    add_md_parser(commands)
    add_relax_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    try:
        return args.handler(args)
    except (ModelFileError, ConfigError, InputError) as error:
        print(f"lrcalc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
