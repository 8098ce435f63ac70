"""Seconds per training epoch of a shipped model's recipe, on its own data: one process at 1 and 2
threads, and data-parallel processes of one thread each.

    python benchmarks/training_epoch.py [models/recipes/bta_cu.yaml] [--threads 1,2] [--processes 2]
                                        [--baseline REVISION]

Runs exactly the recipe (model, data, split, batch size, loss weights) for one epoch in a temporary
directory through :func:`lrcalc.training.train`, once per thread count, then in ``--processes``
data-parallel processes (``torch.distributed.run``, what ``lrcalc train --processes N`` launches), and
prints the epoch time the run recorded (training plus validation), so that code changes can be
compared on the recipe's own terms. Needs ``../shared/data`` beside the repository.

``--baseline REVISION`` (a git revision, e.g. the commit an issue was filed against) times the same
epochs with that revision's code and its own copy of the recipe, checked out in a temporary worktree,
in fresh processes, and prints the speed-up."""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import torch
import yaml

from _common import baseline_checkout, beside_baseline, ensure_allocator, run_python

REPOSITORY = Path(__file__).resolve().parent.parent


def one_epoch(recipe: Path, threads: int, directory: Path) -> float:
    from lrcalc.training import train

    config = yaml.safe_load(recipe.read_text())
    for key in ("path", "split_file"):  # recipes give paths relative to the repository root
        if key in config["data"]:
            config["data"][key] = str(REPOSITORY / config["data"][key])
    config["training"].update(max_epochs=1, num_threads=threads)
    config["training"].pop("init_model", None)
    config["output"] = {"directory": str(directory), "progress_bar": False}
    train(config, log=None)
    record = json.loads((directory / "metrics.jsonl").read_text().splitlines()[-1])
    return float(record["time_s"])


#: one epoch of a recipe with whatever lrcalc is first on the path (works with older revisions too)
ONE_EPOCH = """
import json, os, sys, tempfile
from pathlib import Path
import yaml
import lrcalc
from lrcalc.training import train
recipe, root, threads = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
config = yaml.safe_load(recipe.read_text())
for key in ("path", "split_file"):
    if key in config["data"]:
        config["data"][key] = str(root / config["data"][key])
config["training"].update(max_epochs=1, num_threads=threads)
config["training"].pop("init_model", None)
def epoch_time(directory):
    config["output"] = {"directory": str(directory), "progress_bar": False}
    train(config, log=None)
    return json.loads((Path(directory) / "metrics.jsonl").read_text().splitlines()[-1])["time_s"]
if len(sys.argv) > 4:  # data-parallel: every process trains into the same directory
    seconds = epoch_time(sys.argv[4])
else:
    with tempfile.TemporaryDirectory() as tmp:
        seconds = epoch_time(tmp)
if int(os.environ.get("RANK", "0")) == 0:
    print(seconds)
    print(lrcalc.__file__)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", nargs="?", default=str(REPOSITORY / "models/recipes/bta_cu.yaml"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--processes", default="2",
                        help="data-parallel process counts (one thread each) to time as well ('' for none)")
    parser.add_argument("--baseline", default=None, help="a git revision to compare with")
    args = parser.parse_args()
    allocator = ensure_allocator(True)
    recipe = Path(args.recipe)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {allocator}")
    print(f"# recipe {recipe.name}, one epoch (training + validation), torch {torch.__version__}")
    print(f"{'processes':>9} {'threads':>8} {'s/epoch':>9}")
    times = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            times[(1, threads)] = one_epoch(recipe, threads, Path(tmp) / "run")
        print(f"{1:>9} {threads:>8} {times[(1, threads)]:>9.2f}", flush=True)
    for processes in [int(p) for p in args.processes.split(",") if p]:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, _ = run_python(ONE_EPOCH, str(recipe.resolve()), str(REPOSITORY), "1", tmp,
                                    processes=processes).split()
        times[(processes, 1)] = float(seconds)
        print(f"{processes:>9} {1:>8} {times[(processes, 1)]:>9.2f}", flush=True)
    if len(times) > 1:
        first = list(times)[0]
        for key in list(times)[1:]:
            print(f"# {first[0]} process × {first[1]} thread → {key[0]} × {key[1]}: "
                  f"{times[first] / times[key]:.2f}× faster")
    if args.baseline:
        checkout = baseline_checkout(args.baseline)
        old_recipe = checkout / recipe.resolve().relative_to(REPOSITORY)
        print(f"# against {args.baseline} (its code and its copy of the recipe), each epoch in fresh processes")
        print(f"{'processes':>9} {'threads':>8} {'this code':>10} {args.baseline[:12]:>12} {'speed-up':>9}")
        for processes, threads in times:
            with tempfile.TemporaryDirectory() as now_dir, tempfile.TemporaryDirectory() as then_dir:
                extra = ([now_dir], [then_dir]) if processes > 1 else ([], [])
                now, then, imports = beside_baseline(
                    ONE_EPOCH, [str(recipe.resolve()), str(REPOSITORY), str(threads), *extra[0]],
                    [str(old_recipe), str(checkout), str(threads), *extra[1]], checkout, processes=processes)
            print(f"{processes:>9} {threads:>8} {now:>10.2f} {then:>12.2f} {then / now:>8.2f}×", flush=True)
        print(imports)


if __name__ == "__main__":
    main()
