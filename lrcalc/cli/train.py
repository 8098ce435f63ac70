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
        "learning_curves.png. For data-parallel training launch it with torchrun, e.g. "
        "'torchrun --nproc_per_node=2 -m lrcalc train CONFIG.yaml'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  lrcalc train models/recipes/bta_cu.yaml          # the recipe of a shipped model\n"
               "  lrcalc train mine.yaml --resume                  # continue an interrupted run\n"
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
    parser.set_defaults(handler=run)


def run(args) -> int:
    from ..allocator import tune_allocator
    from ..training import train

    tune_allocator()  # this process runs autograd for hours: keep freed memory (see the module)

    progress = False if args.no_progress else None
    result = train(args.config, resume=args.resume, device=args.device, progress=progress,
                   stop_after_epochs=args.stop_after_epochs)
    if not result["completed"]:
        print(f"stopped after epoch {result['epoch']}; continue with: lrcalc train {args.config} --resume")
    return 0
