"""``lrcalc models``: the shipped models (usable by bare name) with their test errors."""

from __future__ import annotations


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "models", help="list the shipped models with their test errors",
        description="List the models shipped with lrcalc (usable by bare name, e.g. "
                    "LRCalculator('bta_cu.pt')) with method, cutoff, size and test-set RMSEs.",
    )
    parser.set_defaults(handler=run)


def trainable_parameters(config: dict) -> int:
    """Number of trainable parameters of a model built from ``config`` (buffers excluded)."""
    from ..build import build_model

    return sum(p.numel() for p in build_model(config).parameters())


def model_summary(path, payload) -> dict:
    """Key numbers of a model file: method, cutoff, size and test errors (meV/atom, meV/Å, me)."""
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
        "parameters": metadata.get("num_parameters") or trainable_parameters(config),
        "energy_rmse_meV_atom": error("energy", 1000),
        "forces_rmse_meV_A": error("forces", 1000),
        "charges_rmse_me": error("charges", 1000),
        "description": metadata.get("description", ""),
    }


def run(args) -> int:
    from ..model_file import read_model_file, shipped_model_dirs, shipped_models

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
        print(f"{row['name']:<24} {row['long_range']:<6} {row['cutoff']:>5g}Å {row['dtype']:<8} "
              f"{row['parameters']:>8} {show(row['energy_rmse_meV_atom'], '.2f'):>10} "
              f"{show(row['forces_rmse_meV_A'], '.1f'):>8} {show(row['charges_rmse_me'], '.1f'):>6}  "
              f"{row['species']}; {row['description']}")
    print("errors: RMSE on each model's test split (lrcalc evaluate); cards: models/README.md")
    return 0
