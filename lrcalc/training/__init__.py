"""Training and evaluation: ``lrcalc train CONFIG.yaml`` and ``lrcalc evaluate MODEL DATA``.

==================  ==================================================================================
module              what it holds
==================  ==================================================================================
``config``          the YAML config: sections, every key with its default (the reference table)
``data``            reading labelled extxyz, label keys, splits, batching
``statistics``      training-set statistics the model is built with: energy shifts and scale, neighbors
``loss``            the weighted loss and the running error sums
``optimizer``       Adam/AMSGrad, gradient clipping and the learning-rate schedule
``ema``             the exponential moving average of the weights
``metrics``         errors of a model on a set of frames, the per-epoch record, ``metrics.jsonl``
``checkpoint``      ``checkpoint.pt`` (with the RNG states), ``config.yaml``, ``split.json``; atomic writes
``distributed``     data-parallel training on torch.distributed (torchrun; gloo or nccl)
``trainer``         :func:`train`: the epoch loop composing the above, exact resumption, the exported model
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
