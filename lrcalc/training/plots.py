"""Learning curves and parity plots (PNG files, matplotlib's Agg back end: no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .loss import UNITS


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(metrics_path: str | Path, png_path: str | Path) -> Path | None:
    """Loss (log scale) and validation RMSEs against the epoch, from a ``metrics.jsonl``."""
    metrics_path, png_path = Path(metrics_path), Path(png_path)
    if not metrics_path.exists():
        return None
    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    if not records:
        return None
    plt = _pyplot()
    epochs = [r["epoch"] for r in records]
    names = [n for n in UNITS if any(f"val_{n}_rmse" in r for r in records)]
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4.2 * (1 + len(names)), 3.6), squeeze=False)
    ax = axes[0, 0]
    ax.semilogy(epochs, [r["train_loss"] for r in records], label="train")
    ax.semilogy(epochs, [r["val_loss"] for r in records], label="validation (EMA)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    for ax, name in zip(axes[0, 1:], names):
        values = [1000 * r.get(f"val_{name}_rmse", np.nan) for r in records]
        ax.semilogy(epochs, values)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {name} RMSE ({UNITS[name]})")
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path


def plot_parity(predictions: dict, directory: str | Path, title: str = "") -> list[Path]:
    """One parity plot (predicted against reference, in meV units) per label; returns the files."""
    plt = _pyplot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, entry in predictions.items():
        predicted = 1000 * np.concatenate(entry["predicted"])
        reference = 1000 * np.concatenate(entry["reference"])
        if name == "energy":  # absolute energies per atom: show them relative to their mean
            offset = reference.mean()
            predicted, reference = predicted - offset, reference - offset
        error = predicted - reference
        fig, ax = plt.subplots(figsize=(4.4, 4.2))
        ax.scatter(reference, predicted, s=4, alpha=0.5)
        low, high = min(reference.min(), predicted.min()), max(reference.max(), predicted.max())
        ax.plot([low, high], [low, high], color="k", lw=0.8)
        unit = UNITS[name]
        label = f"{name} − mean" if name == "energy" else name
        ax.set_xlabel(f"reference {label} ({unit})")
        ax.set_ylabel(f"predicted {label} ({unit})")
        rmse, mae = np.sqrt(np.mean(error**2)), np.mean(np.abs(error))
        ax.set_title(f"{title}{name}: RMSE {rmse:.3g}, MAE {mae:.3g} {unit}", fontsize=9)
        fig.tight_layout()
        path = directory / f"parity_{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
