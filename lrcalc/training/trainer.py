"""``train(config)``: fit a model to labelled data, resumably, on one or several processes.

The steps, in order:

1. check the config (:mod:`lrcalc.training.config`) and the data: the file exists, every element is
   in ``model.species``, the labels the loss needs are in every training and validation frame, the
   split leaves no set empty. Each problem is an error before any training;
2. neighbor lists of every frame, once (:class:`lrcalc.training.data.Dataset`);
3. statistics of the training set: per-species energy shifts (least squares), the energy scale
   (force RMS) and the average number of neighbors, which the model is built with;
4. epochs: the training frames in an order drawn from ``(seed, epoch)``, batches of ``batch_size``,
   Adam/AMSGrad with gradient clipping and an EMA of the weights; the EMA weights are validated,
   the learning-rate schedule and early stopping follow the validation loss;
5. after every epoch, atomically: ``checkpoint.pt`` (everything a resumed run needs) and, on a new
   best validation loss, ``best.pt`` (an lrcalc model file);
6. at the end, test metrics of the best model go into ``best.pt``'s metadata, with the config, the
   data's path and hash, the split, the training time and the lrcalc version.

A run killed at any point and restarted with ``resume=True`` continues from the last checkpoint and
ends with the same weights as an uninterrupted run: the data order depends only on the seed and the
epoch, and the checkpoint holds the optimizer, schedule, EMA, early-stopping and RNG states.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ..build import DTYPES, build_model
from ..errors import ConfigError, InputError
from . import distributed
from .config import config_differences, load_training_config
from .data import (
    Dataset,
    average_num_neighbors,
    energy_scale,
    energy_shifts,
    make_split,
    read_dataset,
)
from .ema import ExponentialMovingAverage
from .loss import TERMS, UNITS, ErrorSums, element_counts, predict, residuals, weighted_loss

CHECKPOINT_FORMAT = "lrcalc-checkpoint"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------------- small helpers


def _atomic_torch_save(obj, path: Path) -> None:
    temporary = path.with_name(path.name + ".partial")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, path)


def rng_state() -> dict:
    """torch, numpy and Python RNG states as tensors and lists (loadable with ``weights_only=True``)."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["position"], n["has_gauss"], n["cached"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


def epoch_order(indices, seed: int, epoch: int) -> list[int]:
    """The training frames in the order of ``epoch``: a permutation drawn from ``(seed, epoch)`` only."""
    generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
    permutation = torch.randperm(len(indices), generator=generator).tolist()
    return [indices[k] for k in permutation]


def _needed_labels(weights: dict) -> list[str]:
    return [name for name in TERMS if weights[name] > 0]


def _fmt_metrics(metrics: dict) -> str:
    parts = []
    for name, unit in UNITS.items():
        if name in metrics:
            parts.append(f"{name[0].upper()} {1000 * metrics[name]['rmse']:.3g} {unit}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------- evaluation


def error_sums(
    model,
    dataset: Dataset,
    indices,
    batch_size: int,
    device,
    names,
    stress: bool,
    context: distributed.Context | None = None,
    predictions: dict | None = None,
) -> ErrorSums:
    """Errors of ``model`` on frames ``indices``; in a distributed run each process takes every
    ``world_size``-th batch and the sums are added over processes.

    With ``predictions`` (a dict), predicted and reference values are appended to it per label.
    """
    sums = ErrorSums()
    batches = [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)]
    rank, world = (context.rank, context.world_size) if context is not None else (0, 1)
    for batch_indices in batches[rank::world]:
        batch = dataset.collate(batch_indices, device)
        out = predict(model, batch, stress=stress, create_graph=False)
        res = residuals(out, batch, names)
        sums.add(res)
        if predictions is not None:
            _collect(predictions, out, batch, res)
    if context is not None and context.distributed:
        vector = sums.vector().to(context.device)
        distributed.all_reduce_sum(context, vector)
        sums.from_vector(vector.cpu())
    return sums


def _collect(predictions: dict, out: dict, batch: dict, res: dict) -> None:
    for name in res:
        if name == "energy":
            atoms = batch["num_atoms"].double()
            predicted, reference = out["energy64"] / atoms, batch["ref_energy"] / atoms
        else:
            predicted, reference = out[name].double(), batch[f"ref_{name}"]
        entry = predictions.setdefault(name, {"predicted": [], "reference": []})
        entry["predicted"].append(predicted.detach().cpu().reshape(-1).numpy())
        entry["reference"].append(reference.detach().cpu().reshape(-1).numpy())


# ---------------------------------------------------------------------------------------- train


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
        self.metrics_path = self.run_dir / "metrics.jsonl"
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
        needed = _needed_labels(self.weights)
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
        self.dataset.build_graphs(model_cfg["species"], model_cfg["cutoff"], self.dtype)

    def _statistics(self) -> dict:
        train = self.split["train"]
        species = self.config["model"]["species"]
        if self.dataset.available("energy", train):
            shifts = energy_shifts(self.dataset, train, species)
        else:
            shifts = np.zeros(len(species))
        scale = (
            energy_scale(self.dataset, train, shifts, species)
            if self.dataset.available("energy", train)
            else 1.0
        )
        return {
            "avg_num_neighbors": average_num_neighbors(self.dataset, train),
            "energy_shifts": {s: float(v) for s, v in zip(species, shifts)},
            "energy_scale": float(scale),
        }

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
        ignored = ("seed", "avg_num_neighbors", "dtype", "qeq_method", "qeq_accuracy", "lorem_method", "lorem_accuracy")
        different = sorted(k for k in set(wanted) | set(initial.config)
                           if k not in ignored and wanted.get(k) != initial.config.get(k))
        if different:
            details = ", ".join(f"{k}: {wanted.get(k)!r} here, {initial.config.get(k)!r} in the file" for k in different)
            raise ConfigError(f"training.init_model={source!r} has another architecture ({details})")
        return initial

    def _build(self, context: distributed.Context) -> None:
        if self.checkpoint is not None:
            self.statistics = self.checkpoint["statistics"]
        else:
            self.statistics = self._statistics()
        model_cfg = dict(self.config["model"])
        if model_cfg["avg_num_neighbors"] == "auto":
            model_cfg["avg_num_neighbors"] = self.statistics["avg_num_neighbors"]
        initial = self._initial_model(model_cfg)
        if initial is not None:
            model_cfg["avg_num_neighbors"] = initial.config["avg_num_neighbors"]
        model = build_model(model_cfg)
        with torch.no_grad():
            shifts = self.statistics["energy_shifts"]
            model.energy_shift.copy_(torch.tensor([shifts[s] for s in model.species], dtype=model.dtype))
            model.energy_scale.fill_(self.statistics["energy_scale"])
            if initial is not None and self.checkpoint is None:
                model.load_state_dict(initial.state_dict())
        if not self.config["training"]["train_shift_scale"]:
            model.energy_shift.requires_grad_(False)
            model.energy_scale.requires_grad_(False)
        self.model = model.to(context.device)
        distributed.broadcast_parameters(context, self.model)
        if self.weights["charges"] > 0:
            probe = predict(
                self.model, self.dataset.collate(self.split["train"][:1], context.device), False, False
            )
            if "charges" not in probe:
                raise ConfigError(
                    f"training.charges_weight > 0 but the model (long_range="
                    f"{self.model.config['long_range']!r}) predicts no charges"
                )
        t = self.config["training"]
        self.parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(
            self.parameters,
            lr=t["learning_rate"],
            weight_decay=t["weight_decay"],
            amsgrad=t["optimizer"] == "amsgrad",
        )
        if t["lr_schedule"] == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer,
                mode="min",
                factor=t["lr_plateau_factor"],
                patience=t["lr_plateau_patience"],
                min_lr=t["lr_min"],
            )
        elif t["lr_schedule"] == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=t["max_epochs"], eta_min=t["lr_min"]
            )
        else:
            self.scheduler = None
        self.ema = ExponentialMovingAverage(self.model, t["ema_decay"])
        self.state = {
            "epoch": 0,
            "best_val_loss": math.inf,
            "best_epoch": 0,
            "bad_epochs": 0,
            "stopped": None,
            "training_time_s": 0.0,
        }
        self.best_state = {k: v.detach().cpu().clone() for k, v in self.ema.shadow.state_dict().items()}
        if self.checkpoint is not None:
            self._restore(self.checkpoint)

    # -- checkpoints ------------------------------------------------------------------------------

    def _checkpoint_payload(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "config": self.config,
            "split": self.split,
            "dataset_sha256": self.dataset.sha256,
            "statistics": self.statistics,
            "state": dict(self.state),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "ema": self.ema.state_dict(),
            "best_model": self.best_state,
            "rng": rng_state(),
        }

    def _restore(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
            if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
                self.scheduler.T_max = self.config["training"]["max_epochs"]  # a run may be extended
        self.ema.load_state_dict(checkpoint["ema"])
        self.best_state = checkpoint["best_model"]
        self.state.update(checkpoint["state"])
        set_rng_state(checkpoint["rng"])

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(self.config, sort_keys=False))
        _atomic_write_text(self.run_dir / "split.json", json.dumps(self.split) + "\n")
        if self.checkpoint is None and self.metrics_path.exists():
            self.metrics_path.unlink()
        elif self.metrics_path.exists():  # drop lines of epochs after the checkpoint
            done = self.state["epoch"]
            kept = [
                line
                for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line)["epoch"] <= done
            ]
            _atomic_write_text(self.metrics_path, "".join(line + "\n" for line in kept))

    def _model_metadata(self, test_metrics: dict | None) -> dict:
        return {
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

    def _train_epoch(self, context: distributed.Context, epoch: int) -> dict:
        t = self.config["training"]
        order = epoch_order(self.split["train"], t["seed"], epoch)
        batch_size = t["batch_size"]
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        stress = self.weights["stress"] > 0
        show = self.config["output"]["progress_bar"] and context.is_main and sys.stderr.isatty()
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(
                total=len(batches),
                desc=f"epoch {epoch + 1}/{t['max_epochs']}",
                leave=False,
                dynamic_ncols=True,
            )
        totals = torch.zeros(len(TERMS) + 1, dtype=torch.float64)
        self.model.train()
        for p in self.parameters:  # zero, not None: every process all-reduces the same tensors
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        for global_batch in batches:
            counts = element_counts(len(global_batch), sum(len(self.dataset.frames[k]) for k in global_batch))
            local = global_batch[context.rank :: context.world_size]
            self.optimizer.zero_grad(set_to_none=False)
            parts_vector = torch.zeros(len(TERMS) + 1, dtype=torch.float64)
            if local:
                batch = self.dataset.collate(local, context.device)
                out = predict(self.model, batch, stress=stress, create_graph=True)
                loss, parts = weighted_loss(residuals(out, batch, TERMS), self.weights, counts)
                loss.backward()
                parts_vector[0] = float(loss.detach())
                for k, name in enumerate(TERMS):
                    if name in parts:
                        parts_vector[k + 1] = float(parts[name])
            if context.distributed:
                flat = torch.cat(
                    [p.grad.reshape(-1) for p in self.parameters]
                    + [parts_vector.to(self.parameters[0].grad.dtype).to(context.device)]
                )
                distributed.all_reduce_sum(context, flat)
                offset = 0
                for p in self.parameters:
                    p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
                    offset += p.numel()
                parts_vector = flat[offset:].double().cpu()
            if t["gradient_clip_norm"] is not None:
                torch.nn.utils.clip_grad_norm_(self.parameters, t["gradient_clip_norm"])
            self.optimizer.step()
            self.ema.update(self.model)
            totals += parts_vector
            if bar is not None:
                bar.set_postfix(loss=f"{parts_vector[0].item():.4g}")
                bar.update()
        if bar is not None:
            bar.close()
        means = (totals / max(len(batches), 1)).tolist()
        result = {"train_loss": means[0]}
        for k, name in enumerate(TERMS):
            if self.weights[name] > 0:
                result[f"train_{name}_mse"] = means[k + 1]
        return result

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
            self._write_run_files()
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
            record["val_loss"] = val_loss
            for name, values in val_metrics.items():
                record[f"val_{name}_rmse"] = values["rmse"]
                record[f"val_{name}_mae"] = values["mae"]
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(val_loss)
            elif self.scheduler is not None:
                self.scheduler.step()
            improved = val_loss < self.state["best_val_loss"] - t["early_stopping_min_delta"]
            if improved:
                self.state.update(best_val_loss=val_loss, best_epoch=epoch + 1, bad_epochs=0)
                self.best_state = {
                    k: v.detach().cpu().clone() for k, v in self.ema.shadow.state_dict().items()
                }
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
                with open(self.metrics_path, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
                if improved:
                    self._export_best(None)
                _atomic_torch_save(self._checkpoint_payload(), self.checkpoint_path)
                self.log(
                    f"epoch {epoch + 1}/{t['max_epochs']}  train {record['train_loss']:.4g}  "
                    f"val {val_loss:.4g} ({_fmt_metrics(val_metrics)})  lr {record['lr']:.3g}  "
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

                plot_learning_curves(self.metrics_path, self.run_dir / "learning_curves.png")
            reason = self.state["stopped"] or f"{self.state['epoch']} epochs"
            self.log(
                f"done ({reason}); best epoch {self.state['best_epoch']}, model {self.best_path}"
                + (f"; test: {_fmt_metrics(test_metrics)}" if test_metrics else "")
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


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (plain data only: ``torch.load(weights_only=True)``)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(
            f"{path}: not a readable training checkpoint: {str(error).splitlines()[0]}"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not an lrcalc training checkpoint")
    return checkpoint


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
