"""``train(config)``: fit a model to labelled data, resumably, on one or several processes.

The steps, in order:

1. check the config (:mod:`~lrcalc.training.config`) and the data: the file exists, every element is
   in ``model.species``, the labels the loss needs are in every training and validation frame, the
   split leaves no set empty, a charge loss has a model that declares ``charges`` among its outputs.
   Each problem is an error before any training;
2. neighbor lists of every frame, once (:class:`~lrcalc.training.data.Dataset`);
3. statistics of the training set, which the model is built with (:mod:`~lrcalc.training.statistics`);
4. epochs: the training frames in an order drawn from ``(seed, epoch)``, batches of ``batch_size``,
   optimizer steps (:mod:`~lrcalc.training.optimizer`) and an EMA of the weights
   (:mod:`~lrcalc.training.ema`); the EMA weights are validated, the learning-rate schedule and
   early stopping follow the validation loss; a line per epoch goes to ``metrics.jsonl``
   (:mod:`~lrcalc.training.metrics`);
5. after every epoch, atomically: ``checkpoint.pt`` (everything a resumed run needs,
   :mod:`~lrcalc.training.checkpoint`) and, on a new best validation loss, ``best.pt`` (an lrcalc
   model file);
6. at the end, test metrics of the best model go into ``best.pt``'s metadata, with the config, the
   data's path and hash, the split, the training time and the lrcalc version.

A run killed at any point and restarted with ``resume=True`` continues from the last checkpoint and
ends with the same weights as an uninterrupted run: the data order depends only on the seed and the
epoch, and the checkpoint holds the optimizer, schedule, EMA, early-stopping and RNG states.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

from ..build import DTYPES, build_model
from ..errors import ConfigError, InputError
from ..domain import TrainingDomain
from . import distributed
from .checkpoint import load_checkpoint, restore_checkpoint, save_checkpoint, write_run_files
from .config import config_differences, load_training_config
from .data import make_split, read_dataset
from .ema import ExponentialMovingAverage
from .loss import TERMS, element_counts, predict, residuals, weighted_loss
from .metrics import MetricsLog, error_sums, format_metrics, loss_parts, train_record, validation_record
from .optimizer import clipped_step, make_optimizer, make_scheduler, step_scheduler
from .statistics import set_energy_shift_and_scale, training_statistics


def epoch_order(indices, seed: int, epoch: int) -> list[int]:
    """The training frames in the order of ``epoch``: a permutation drawn from ``(seed, epoch)`` only."""
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    permutation = torch.randperm(len(indices), generator=generator).tolist()
    return [indices[k] for k in permutation]


class TrainingRun:
    """State of one training run; :func:`train` drives it. Split into methods for readability, not
    for reuse."""

    def __init__(self, config, *, resume: bool, device: str | None, progress: bool | None, log):
        self.config = load_training_config(config)
        if device is not None:
            self.config["training"]["device"] = device
        if progress is not None:
            self.config["output"]["progress_bar"] = bool(progress)
        self.log = log or (lambda *args, **kwargs: None)
        self.run_dir = Path(self.config["output"]["directory"])
        self.checkpoint_path = self.run_dir / "checkpoint.pt"
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.best_path = self.run_dir / "best.pt"
        self.checkpoint = None
        if self.checkpoint_path.exists():
            if not resume:
                raise ConfigError(
                    f"{self.run_dir} already holds a training run (checkpoint.pt); continue it with "
                    f"--resume, or choose another output.directory"
                )
            self.checkpoint = load_checkpoint(self.checkpoint_path)
            changed = config_differences(self.checkpoint["config"], self.config)
            if changed:
                raise ConfigError(
                    f"cannot resume {self.run_dir}: the config differs from the interrupted run's in "
                    f"{', '.join(changed)} (only training.max_epochs, training.device, "
                    f"training.num_threads, output.progress_bar and output.plot may change)"
                )
        self.weights = {name: self.config["training"][f"{name}_weight"] for name in TERMS}
        self._prepare_data()

    # -- data and model ---------------------------------------------------------------------------

    def _prepare_data(self) -> None:
        data_cfg, model_cfg = self.config["data"], self.config["model"]
        if self.weights["charges"] > 0 and not data_cfg["charges_key"]:
            raise ConfigError(
                "training.charges_weight > 0 needs data.charges_key (the per-atom charge labels)"
            )
        self.dataset = read_dataset(data_cfg["path"], data_cfg)
        if self.checkpoint is not None and self.checkpoint["dataset_sha256"] != self.dataset.sha256:
            raise InputError(
                f"cannot resume {self.run_dir}: {self.dataset.path} changed since the run started "
                f"(its SHA-256 differs from the one in checkpoint.pt)"
            )
        self.dataset.check_species(model_cfg["species"])
        if self.checkpoint is not None:
            self.split = {name: list(values) for name, values in self.checkpoint["split"].items()}
        else:
            self.split = make_split(self.dataset, data_cfg)
        needed = [name for name in TERMS if self.weights[name] > 0]
        self.dataset.require(needed, self.split["train"], "training set")
        self.dataset.require(needed, self.split["val"], "validation set")
        volume_less = [
            k
            for k in self.split["train"] + self.split["val"]
            if "stress" in needed
            and not (self.dataset.frames[k].pbc.all() and self.dataset.frames[k].cell.volume > 1e-12)
        ]
        if volume_less:
            raise InputError(
                f"{self.dataset.path}: stress_weight > 0 but frame(s) {volume_less[:10]} have no 3-D "
                f"periodic cell"
            )
        self.dtype = DTYPES[model_cfg["dtype"]]
        self.dataset.build_graphs(model_cfg["species"], model_cfg["cutoff"], torch.float64)  # geometry in float64

    def _initial_model(self, model_cfg: dict):
        """The model of ``training.init_model`` (checked against the model section), or None."""
        source = self.config["training"]["init_model"]
        if source is None:
            return None
        from ..config import resolve_config
        from ..model_file import load_model

        initial = load_model(source)
        wanted = resolve_config({k: v for k, v in model_cfg.items() if k != "avg_num_neighbors"})
        # numerical settings may differ: they do not change what the weights mean
        ignored = ("seed", "avg_num_neighbors", "dtype", "coulomb_method", "coulomb_accuracy")
        different = sorted(k for k in set(wanted) | set(initial.config)
                           if k not in ignored and wanted.get(k) != initial.config.get(k))
        if different:
            details = ", ".join(f"{k}: {wanted.get(k)!r} here, {initial.config.get(k)!r} in the file"
                                for k in different)
            raise ConfigError(f"training.init_model={source!r} has another architecture ({details})")
        return initial

    def _new_model(self):
        """The model of the ``model`` section with the training-set statistics (or the weights of
        ``training.init_model``)."""
        model_cfg = dict(self.config["model"])
        if model_cfg["avg_num_neighbors"] == "auto":
            model_cfg["avg_num_neighbors"] = self.statistics["avg_num_neighbors"]
        initial = self._initial_model(model_cfg)
        if initial is not None:
            model_cfg["avg_num_neighbors"] = initial.config["avg_num_neighbors"]
        model = build_model(model_cfg)
        if self.weights["charges"] > 0 and "charges" not in model.outputs:
            raise ConfigError(
                f"training.charges_weight > 0 but the model (long_range="
                f"{model.config['long_range']!r}) predicts no charges"
            )
        set_energy_shift_and_scale(model, self.statistics)
        if initial is not None and self.checkpoint is None:
            model.load_state_dict(initial.state_dict())
        if not self.config["training"]["train_shift_scale"]:
            model.energy_shift.requires_grad_(False)
            model.energy_scale.requires_grad_(False)
        return model

    def _build(self, context: distributed.Context) -> None:
        if self.checkpoint is not None:
            self.statistics = self.checkpoint["statistics"]
        else:
            self.statistics = training_statistics(
                self.dataset, self.split["train"], self.config["model"]["species"]
            )
        self.model = self._new_model().to(context.device)
        distributed.broadcast_parameters(context, self.model)
        t = self.config["training"]
        self.parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(self.parameters, t)
        self.scheduler = make_scheduler(self.optimizer, t)
        self.ema = ExponentialMovingAverage(self.model, t["ema_decay"])
        self.state = {
            "epoch": 0,
            "best_val_loss": math.inf,
            "best_epoch": 0,
            "bad_epochs": 0,
            "stopped": None,
            "training_time_s": 0.0,
        }
        self.best_state = self._ema_weights()
        if self.checkpoint is not None:
            restore_checkpoint(
                self.checkpoint,
                model=self.model,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                ema=self.ema,
                max_epochs=t["max_epochs"],
            )
            self.best_state = self.checkpoint["best_model"]
            self.state.update(self.checkpoint["state"])

    def _ema_weights(self) -> dict:
        return {k: v.detach().cpu().clone() for k, v in self.ema.shadow.state_dict().items()}

    # -- files ------------------------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        save_checkpoint(
            self.checkpoint_path,
            config=self.config,
            split=self.split,
            dataset_sha256=self.dataset.sha256,
            statistics=self.statistics,
            state=self.state,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            ema=self.ema,
            best_model=self.best_state,
        )

    def _model_metadata(self, test_metrics: dict | None) -> dict:
        data_cfg = self.config["data"]
        domain = TrainingDomain.from_frames(
            [self.dataset.frames[k] for k in self.split["train"]], self.model.species,
            data_cfg["total_charge_key"], data_cfg["pbc"])
        return {
            "training_domain": domain.to_metadata(),
            "training": {
                "config": self.config,
                "dataset": {
                    "path": str(Path(self.dataset.path).resolve()),
                    "sha256": self.dataset.sha256,
                    "num_frames": len(self.dataset),
                },
                "split": self.split,
                "statistics": self.statistics,
                "best_epoch": self.state["best_epoch"],
                "epochs": self.state["epoch"],
                "best_val_loss": self.state["best_val_loss"],
                "stopped": self.state["stopped"],
                "training_time_s": round(self.state["training_time_s"], 3),
                "test_metrics": test_metrics,
                "metric_units": "eV/atom, eV/Å, eV/Å³, e (ASE units)",
            }
        }

    def _export_best(self, test_metrics: dict | None) -> None:
        from ..model_file import save_model

        export = build_model(self.model.config)
        export.load_state_dict(self.best_state)
        save_model(export, self.best_path, metadata=self._model_metadata(test_metrics))

    # -- the loop ---------------------------------------------------------------------------------

    def _progress_bar(self, context: distributed.Context, epoch: int, num_batches: int):
        if not (self.config["output"]["progress_bar"] and context.is_main and sys.stderr.isatty()):
            return None
        from tqdm import tqdm

        return tqdm(
            total=num_batches,
            desc=f"epoch {epoch + 1}/{self.config['training']['max_epochs']}",
            leave=False,
            dynamic_ncols=True,
        )

    def _train_epoch(self, context: distributed.Context, epoch: int) -> dict:
        t = self.config["training"]
        order = epoch_order(self.split["train"], t["seed"], epoch)
        batch_size = t["batch_size"]
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        stress = self.weights["stress"] > 0
        bar = self._progress_bar(context, epoch, len(batches))
        batch_parts = []
        self.model.train()
        for p in self.parameters:  # zero, not None: every process all-reduces the same tensors
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        for global_batch in batches:
            counts = element_counts(len(global_batch), sum(len(self.dataset.frames[k]) for k in global_batch))
            local = global_batch[context.rank :: context.world_size]
            self.optimizer.zero_grad(set_to_none=False)
            loss, terms = None, {}
            if local:
                batch = self.dataset.collate(local, context.device)
                out = predict(self.model, batch, stress=stress, create_graph=True)
                loss, terms = weighted_loss(residuals(out, batch, TERMS), self.weights, counts)
                loss.backward()
            parts = distributed.all_reduce_gradients(context, self.parameters, loss_parts(loss, terms))
            clipped_step(self.optimizer, self.parameters, t["gradient_clip_norm"])
            self.ema.update(self.model)
            batch_parts.append(parts)
            if bar is not None:
                bar.set_postfix(loss=f"{parts[0].item():.4g}")
                bar.update()
        if bar is not None:
            bar.close()
        return train_record(batch_parts, self.weights)

    def _validate(self, context: distributed.Context) -> tuple[float, dict]:
        names = [n for n in TERMS if self.weights[n] > 0 or self.dataset.available(n, self.split["val"])]
        stress = "stress" in names and self.dataset.available("stress", self.split["val"])
        sums = error_sums(
            self.ema.shadow,
            self.dataset,
            self.split["val"],
            self.config["training"]["eval_batch_size"],
            context.device,
            names,
            stress,
            context,
        )
        return sums.loss(self.weights), sums.metrics()

    def run(self, context: distributed.Context, stop_after_epochs: int | None) -> dict:
        self._build(context)
        if context.is_main:
            write_run_files(self.run_dir, self.config, self.split)
            self.metrics.start(resumed_after=None if self.checkpoint is None else self.state["epoch"])
        distributed.barrier(context)
        t = self.config["training"]
        if self.checkpoint is None and context.is_main:
            self.log(
                f"training on {len(self.split['train'])} frames, validating on {len(self.split['val'])}, "
                f"testing on {len(self.split['test'])} ({self.dataset.path}); device {context.device}, "
                f"{context.world_size} process(es); "
                f"⟨neighbors⟩ {self.statistics['avg_num_neighbors']:.2f}, "
                f"energy scale {self.statistics['energy_scale']:.4g} eV"
            )
        elif context.is_main:
            self.log(f"resuming {self.run_dir} after epoch {self.state['epoch']}")
        epochs_this_call = 0
        interrupted = False
        while self.state["epoch"] < t["max_epochs"] and self.state["stopped"] is None:
            if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
                interrupted = True
                break
            epoch = self.state["epoch"]
            start = time.perf_counter()
            record = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
            record.update(self._train_epoch(context, epoch))
            val_loss, val_metrics = self._validate(context)
            record.update(validation_record(val_loss, val_metrics))
            step_scheduler(self.scheduler, val_loss)
            improved = val_loss < self.state["best_val_loss"] - t["early_stopping_min_delta"]
            if improved:
                self.state.update(best_val_loss=val_loss, best_epoch=epoch + 1, bad_epochs=0)
                self.best_state = self._ema_weights()
            else:
                self.state["bad_epochs"] += 1
            patience = t["early_stopping_patience"]
            if patience is not None and self.state["bad_epochs"] >= patience:
                self.state["stopped"] = f"early stopping after {patience} epochs without improvement"
            self.state["epoch"] = epoch + 1
            elapsed = time.perf_counter() - start
            self.state["training_time_s"] += elapsed
            record["time_s"] = elapsed
            epochs_this_call += 1
            if context.is_main:
                self.metrics.append(record)
                if improved:
                    self._export_best(None)
                self._save_checkpoint()
                self.log(
                    f"epoch {epoch + 1}/{t['max_epochs']}  train {record['train_loss']:.4g}  "
                    f"val {val_loss:.4g} ({format_metrics(val_metrics)})  lr {record['lr']:.3g}  "
                    f"{elapsed:.1f} s{'  *' if improved else ''}"
                )
            distributed.barrier(context)
        if interrupted:
            return {"run_dir": str(self.run_dir), "completed": False, "epoch": self.state["epoch"]}
        return self._finish(context)

    def _finish(self, context: distributed.Context) -> dict:
        test_metrics = None
        best = build_model(self.model.config).to(context.device)
        best.load_state_dict(self.best_state)
        if self.split["test"]:
            names = [n for n in TERMS if self.dataset.available(n, self.split["test"])]
            stress = "stress" in names
            sums = error_sums(
                best,
                self.dataset,
                self.split["test"],
                self.config["training"]["eval_batch_size"],
                context.device,
                names,
                stress,
                context,
            )
            test_metrics = sums.metrics()
        if context.is_main:
            self._export_best(test_metrics)
            if self.config["output"]["plot"]:
                from .plots import plot_learning_curves

                plot_learning_curves(self.metrics.path, self.run_dir / "learning_curves.png")
            reason = self.state["stopped"] or f"{self.state['epoch']} epochs"
            self.log(
                f"done ({reason}); best epoch {self.state['best_epoch']}, model {self.best_path}"
                + (f"; test: {format_metrics(test_metrics)}" if test_metrics else "")
            )
        distributed.barrier(context)
        return {
            "run_dir": str(self.run_dir),
            "completed": True,
            "epoch": self.state["epoch"],
            "best_model": str(self.best_path),
            "best_epoch": self.state["best_epoch"],
            "test_metrics": test_metrics,
        }


def train(
    config,
    *,
    resume: bool = False,
    device: str | None = None,
    progress: bool | None = None,
    stop_after_epochs: int | None = None,
    log=print,
) -> dict:
    """Train a model as described by ``config`` (a YAML path or a dict; see
    :mod:`lrcalc.training.config`).

    Args:
        resume: continue the run in ``output.directory`` from its ``checkpoint.pt`` (starts afresh
            when there is none). Without it an existing checkpoint is an error.
        device: overrides ``training.device``.
        progress: overrides ``output.progress_bar``.
        stop_after_epochs: return after this many epochs of this call, as if interrupted (split a
            long run into chunks; continue with ``resume=True``).
        log: where progress lines go (``None``: nowhere).

    Returns:
        ``{"run_dir", "completed", "epoch", "best_model", "best_epoch", "test_metrics"}`` (the last
        three once the run is complete).

    Raises:
        ConfigError, InputError: bad config or data, before training starts.
    """
    run = TrainingRun(config, resume=resume, device=device, progress=progress, log=log)
    context = distributed.setup(run.config["training"]["device"])
    threads = torch.get_num_threads()
    if run.config["training"]["num_threads"] is not None:
        torch.set_num_threads(run.config["training"]["num_threads"])
    try:
        return run.run(context, stop_after_epochs)
    finally:
        torch.set_num_threads(threads)
        distributed.teardown(context)
