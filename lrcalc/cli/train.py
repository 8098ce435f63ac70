"""``lrcalc train CONFIG.yaml``: train a model (:func:`lrcalc.training.train`)."""

from __future__ import annotations

import argparse


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a model from a YAML config",
        description="Train a model as a YAML config describes (sections model, data, training, output; "
        "every key is documented in lrcalc.training.config). The run directory gets config.yaml, "
        "split.json, checkpoint.pt (every epoch), best.pt (a model file), metrics.jsonl and "
        "learning_curves.png. --processes N trains data-parallel in N processes on this machine (each "
        "takes 1/N of every batch; the gradients are summed, so the training is the same); across "
        "machines launch it with torchrun, e.g. 'torchrun --nproc_per_node=2 -m lrcalc train CONFIG.yaml'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  lrcalc train models/recipes/bta_cu.yaml          # the recipe of a shipped model\n"
               "  lrcalc train mine.yaml --resume                  # continue an interrupted run\n"
               "  lrcalc train mine.yaml --processes 2             # both cores of a 2-core machine\n"
               "  lrcalc info --keys                               # every config key with its default",
    )
    parser.add_argument("config", help="training config (YAML)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in output.directory from its last checkpoint "
                        "(starts afresh if there is none)")
    parser.add_argument("--device", default=None, help="overrides training.device (cpu, cuda, cuda:1, auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--stop-after-epochs", type=int, default=None, metavar="N",
                        help="return after N epochs of this call (continue later with --resume)")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="data-parallel processes on this machine (default 1); on N CPU cores N "
                        "processes of one thread each train faster than one process of N threads "
                        "(benchmarks/training_epoch.py, the bta_cu.yaml recipe on 2 cores: 10.0 s per epoch in 2 "
                        "processes against 14.7 s in one process of 2 threads)")
    parser.set_defaults(handler=run)


def launch_processes(args) -> int:
    """Run this command again in ``args.processes`` data-parallel processes on this machine, through
    torch's own launcher (``torch.distributed.run``, what ``torchrun`` is: a free local port, the
    process-group environment of each process, and every process stopped when one fails). Each
    process gets ``cores / processes`` threads unless ``OMP_NUM_THREADS`` or ``training.num_threads``
    says otherwise. Returns the launcher's exit status."""
    import os
    import subprocess
    import sys

    command = ["train", args.config]
    if args.resume:
        command.append("--resume")
    if args.device is not None:
        command += ["--device", args.device]
    if args.no_progress:
        command.append("--no-progress")
    if args.stop_after_epochs is not None:
        command += ["--stop-after-epochs", str(args.stop_after_epochs)]
    environment = dict(os.environ)
    environment.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.processes)))
    environment["LRCALC_TRAIN_PROCESSES"] = str(args.processes)  # for the message of an interrupted run
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={args.processes}", "-m", "lrcalc", *command]
    return subprocess.call(launcher, env=environment)


def idle_cores_hint(training: dict, device: str | None, cores: int) -> str | None:
    """A one-line note when a CPU run pins fewer threads (``training.num_threads``) than the machine has
    cores: data-parallel processes would use them (the same training), else ``None``."""
    threads = training.get("num_threads")
    device = device or training.get("device", "auto")
    if threads is None or threads >= cores or str(device).startswith("cuda"):
        return None
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return None
    processes = min(cores // threads, training["batch_size"])
    if processes < 2:
        return None
    return (f"note: training.num_threads is {threads} and this machine has {cores} cores; "
            f"--processes {processes} trains the same model on {processes * threads} of them (data-parallel)")


def run(args) -> int:
    import os

    from ..allocator import tune_allocator
    from ..errors import ConfigError
    from ..training import train
    from ..training.config import load_training_config

    if args.processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {args.processes}")
    if args.processes > 1:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError("--processes inside a distributed launch (torchrun): give one or the other")
        load_training_config(args.config)  # a bad config fails here, once, not in every process
        return launch_processes(args)

    tune_allocator()  # this process runs autograd for hours: keep freed memory (see the module)
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        hint = idle_cores_hint(load_training_config(args.config)["training"], args.device, os.cpu_count() or 1)
        if hint:
            print(hint, flush=True)

    progress = False if args.no_progress else None
    result = train(args.config, resume=args.resume, device=args.device, progress=progress,
                   stop_after_epochs=args.stop_after_epochs)
    if not result["completed"] and int(os.environ.get("RANK", "0")) == 0:
        processes = int(os.environ.get("LRCALC_TRAIN_PROCESSES", "1"))
        again = f" --processes {processes}" if processes > 1 else ""
        print(f"stopped after epoch {result['epoch']}; continue with: lrcalc train {args.config} --resume{again}")
    return 0
