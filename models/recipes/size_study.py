"""Model size against accuracy and speed on the Cu-BTA data: how the shipped size was chosen.

    python models/recipes/size_study.py train     # short runs (runs/size_study/), then
    python models/recipes/size_study.py report    # the table (speed: run it on a quiet machine)

Each size is the short-range recipe (models/recipes/bta_cu_sr.yaml) with another ``num_features`` /
``l_max``, trained for the first ``--epochs`` epochs of that recipe's 70-epoch cosine schedule (the
same learning rates at every epoch as the shipped models, so the validation errors at that epoch
are comparable). The report gives the validation force RMSE at that epoch, the parameter count and
the MD speed (Langevin steps/s, 46-atom slab, one process, float32) of the short-range model and of
the Qeq model of the same size.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import yaml

RECIPES = Path(__file__).resolve().parent
REPO = RECIPES.parents[1]
SIZES = [(16, 1), (32, 1), (64, 1)]  # (num_features, l_max)


def run_dir(features: int, l_max: int) -> Path:
    return REPO / "runs" / "size_study" / f"f{features}_l{l_max}"


def train_all(epochs: int) -> None:
    from lrcalc.training import train

    base = yaml.safe_load((RECIPES / "bta_cu_sr.yaml").read_text())
    for features, l_max in SIZES:
        config = copy.deepcopy(base)
        config["model"].update(num_features=features, l_max=l_max)
        config["output"]["directory"] = str(run_dir(features, l_max))
        config["output"]["plot"] = False
        print(f"training {features} features, l_max {l_max} for {epochs} epochs", flush=True)
        train(config, resume=True, progress=False, stop_after_epochs=epochs)


def report(epochs: int) -> None:
    from speed import md_speed  # the cards' MD speed measurement (same folder)

    import lrcalc
    from lrcalc.allocator import tune_allocator
    from lrcalc.structures import bta_on_cu111

    tune_allocator()
    print(f"| features | l_max | parameters (SR) | val force RMSE at epoch {epochs} (meV/Å) | "
          "SR MD steps/s | Qeq MD steps/s |")
    print("|---|---|---|---|---|---|")
    for features, l_max in SIZES:
        records = [json.loads(line) for line in (run_dir(features, l_max) / "metrics.jsonl").read_text().splitlines()]
        record = next((r for r in records if r["epoch"] == epochs), None)
        common = {"species": ["H", "C", "N", "Cu"], "cutoff": 5.0, "num_features": features, "l_max": l_max,
                  "dtype": "float32", "avg_num_neighbors": 25.8}
        short_range = lrcalc.build_model(common | {"num_layers": 3})
        qeq = lrcalc.build_model(common | {"long_range": "qeq", "num_layers": 2, "num_layers_feedback": 1})
        force = "—" if record is None else f"{record['val_forces_rmse'] * 1000:.1f}"
        print(f"| {features} | {l_max} | {sum(p.numel() for p in short_range.parameters())} | {force} | "
              f"{md_speed(short_range, 60, bta_on_cu111()):.1f} | {md_speed(qeq, 60, bta_on_cu111()):.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["train", "report"])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    if args.what == "train":
        train_all(args.epochs)
    else:
        report(args.epochs)


if __name__ == "__main__":
    main()
