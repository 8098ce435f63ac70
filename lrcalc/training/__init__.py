"""Training and evaluation: ``lrcalc train CONFIG.yaml`` and ``lrcalc evaluate MODEL DATA``.

==================  ==================================================================================
module              what it holds
==================  ==================================================================================
``config``          the YAML config: sections, every key with its default (the reference table)
``data``            reading labelled extxyz, label keys, splits, training-set statistics, batching
``loss``            the weighted loss and the error metrics
``ema``             the exponential moving average of the weights
``distributed``     data-parallel training on torch.distributed (torchrun; gloo or nccl)
``trainer``         :func:`train`: the epoch loop, checkpoints and exact resumption, the exported model
``evaluate``        :func:`evaluate`: RMSE/MAE tables and parity plots
``plots``           learning curves and parity plots (PNG)
==================  ==================================================================================

Python use::

    from lrcalc.training import train, evaluate
    result = train("config.yaml")                      # or a dict with the same sections
    print(evaluate(result["best_model"], "data.extxyz", subset="run/split.json:test")["metrics"])
"""

from .config import EXAMPLE_YAML, load_training_config
from .evaluate import evaluate, format_table
from .trainer import train

__all__ = ["EXAMPLE_YAML", "evaluate", "format_table", "load_training_config", "train"]
