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
    parser.add_argument("--json", action="store_true",
                        help="print the whole config and metadata as JSON instead of a summary")
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
    if args.json:
        print(json.dumps({"file": str(path), "format_version": payload["format_version"],
                          "config": payload["config"], "metadata": payload["metadata"]}, indent=2))
        return 0
    print_summary(path, payload)
    return 0


def print_summary(path, payload) -> None:
    """A page about a model file: what it is, what it was trained on, how accurate it is."""
    config, metadata = payload["config"], payload["metadata"]
    state = payload["state_dict"]
    training = metadata.get("training") or {}
    rows = [
        ("model file", str(path)),
        ("description", metadata.get("description", "—")),
        ("method", f"long_range={config.get('long_range', 'none')}, cutoff {config['cutoff']:g} Å, "
                   f"{config.get('num_layers')} layers, l_max {config.get('l_max')}, "
                   f"{config.get('num_features')} features, {config.get('dtype')}"),
        ("species", " ".join(config["species"])),
        ("size", f"{sum(t.numel() for t in state.values())} numbers in {len(state)} tensors "
                 f"(format {payload['format_version']})"),
    ]
    data = (training.get("config") or {}).get("data") or {}
    if data:
        dataset = training.get("dataset") or {}
        rows.append(("training data", f"{data.get('path')} ({dataset.get('num_frames', '?')} frames)"))
    domain = metadata.get("training_domain")
    if domain:
        low, high = domain["total_charge_range"]
        rows.append(("trained on", f"total charge {low:g} to {high:g} e from info "
                                   f"{'+'.join(domain['charge_keys'])}; pbc "
                                   f"{', '.join(str(tuple(p)) for p in domain['pbc'])}; "
                                   f"{len(domain['compositions'])} independent composition(s)"))
    tests = training.get("test_metrics") or {}
    units = {"energy": (1000, "meV/atom"), "forces": (1000, "meV/Å"), "stress": (1000, "meV/Å³"),
             "charges": (1000, "me")}
    errors = [f"{name} {tests[name]['rmse'] * units[name][0]:.3g} {units[name][1]}"
              for name in units if name in tests]
    if errors:
        rows.append(("test RMSE", ", ".join(errors)))
    for key in ("data_license", "recipe", "lrcalc_version", "saved_at"):
        if key in metadata:
            rows.append((key.replace("_", " "), str(metadata[key])))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("(--json prints the whole config and metadata; lrcalc info --keys explains every config key)")
