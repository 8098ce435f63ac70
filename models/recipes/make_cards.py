"""Measure the shipped models and write their cards (models/README.md). Every number is measured here.

    python models/recipes/make_cards.py [--md-steps 100]

For each trained model: test-split RMSE/MAE of energy, forces and charges by ``lrcalc evaluate``,
the correlation of predicted with reference charges (and with their negative: the reference charges
of these data sets look sign-flipped), MD speed (Langevin steps/s, 46-atom BTA/Cu(111) slab, this
machine, tuned allocator, single structure), and the training facts from the model's metadata.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import yaml

MODELS_DIR = Path(__file__).resolve().parents[1]
REPO = MODELS_DIR.parent

# name: (recipe, data folder, what it is)
CARDS = {
    "bta_cu.pt": ("bta_cu.yaml", "cu_bta", "NequIP-LR (Qeq) model, benzotriazole on Cu(111)"),
    "bta_cu_sr.pt": ("bta_cu_sr.yaml", "cu_bta", "short-range baseline of bta_cu.pt (same size and cutoff)"),
    "bta_cu_qeq3.pt": ("bta_cu_qeq3.yaml", "cu_bta", "NequIP-LR (Qeq) model with a 3 Å cutoff"),
    "bta_ion_cu.pt": ("bta_ion_cu.yaml", "cu_bta_ion", "NequIP-LR (Qeq) model, BTA⁻ + H₃O⁺ on Cu(111)"),
    "bta_ion_cu_sr.pt": ("bta_ion_cu_sr.yaml", "cu_bta_ion", "short-range baseline of bta_ion_cu.pt"),
}
CITATION = ("M. Maruf, S. Kim, Z. Ahmad, \"Equivariant Machine Learning Interatomic Potentials with Global "
            "Charge Redistribution\", arXiv:2503.17949 (data: github.com/ahmad-research-group/nequip-charge, "
            "commit b76c5ca, MIT license)")


def md_speed(model, steps: int) -> float:
    from lrcalc import LRCalculator, md
    from lrcalc.structures import bta_on_cu111

    atoms = bta_on_cu111()  # 46 atoms for every model (the ion models know its elements too)
    atoms.calc = LRCalculator(model)
    md.run(atoms, "langevin", 300, 0.5, 5, trajectory=os.devnull, logfile=None, progress=False)  # warm-up
    start = time.perf_counter()
    md.run(atoms, "langevin", 300, 0.5, steps, trajectory=os.devnull, logfile=None, interval=steps,
           progress=False)
    return steps / (time.perf_counter() - start)


def charge_correlations(model, data_path, test_indices, pbc):
    from ase.io import read

    from lrcalc import LRCalculator

    predicted, reference = [], []
    calc = LRCalculator(model)
    for k in test_indices:
        atoms = read(data_path, index=k)
        atoms.pbc = pbc
        atoms.info["charge"] = float(atoms.info.get("total_charge", 0.0))
        reference.append(atoms.get_initial_charges())
        atoms.calc = calc
        predicted.append(atoms.get_charges())
    predicted, reference = np.concatenate(predicted), np.concatenate(reference)
    r = float(np.corrcoef(predicted, reference)[0, 1])
    return r, float(np.sqrt(np.mean((predicted - reference) ** 2))), float(np.sqrt(np.mean((predicted + reference) ** 2)))


def card(name, rows, args) -> str:
    import lrcalc
    from lrcalc.training import evaluate

    recipe_file, folder, what = CARDS[name]
    recipe = yaml.safe_load((MODELS_DIR / "recipes" / recipe_file).read_text())
    model = lrcalc.load_model(MODELS_DIR / name)
    meta = model.metadata.get("training", {})
    data_path = REPO / recipe["data"]["path"]
    split_file = REPO / recipe["data"]["split_file"]
    result = evaluate(model, data_path, subset=f"{split_file}:test")
    metrics = result["metrics"]
    speed = md_speed(model, args.md_steps)
    lines = [f"## `{name}` — {what}", ""]
    lines += [
        f"- **Data**: `../shared/data/{folder}/` ({meta.get('dataset', {}).get('num_frames', '?')} frames, "
        f"sha256 {meta.get('dataset', {}).get('sha256', '?')[:16]}…); fixed split "
        f"{len(meta.get('split', {}).get('train', []))} train / {len(meta.get('split', {}).get('val', []))} val / "
        f"{len(meta.get('split', {}).get('test', []))} test. Frames treated as slabs, pbc = "
        f"{recipe['data'].get('pbc')}.",
        f"- **Cite**: {CITATION}.",
        f"- **Model**: `long_range: {model.config['long_range']}`, cutoff {model.config['cutoff']:g} Å, "
        f"{model.config['num_layers']}"
        + (f" + {model.config['num_layers_feedback']}" if model.config["long_range"] == "qeq" else "")
        + f" interaction layers, l_max {model.config['l_max']}, {model.config['num_features']} features, "
        f"{model.config['dtype']}, {sum(p.numel() for p in model.parameters())} parameters.",
        f"- **Training**: `lrcalc train models/recipes/{recipe_file}`; {meta.get('epochs')} epochs (best "
        f"{meta.get('best_epoch')}), {meta.get('training_time_s', 0) / 60:.0f} min on a 2-core x86_64 CPU "
        f"(one thread, shared with other jobs); loss weights energy {recipe['training']['energy_weight']}, "
        f"forces {recipe['training']['forces_weight']}, charges {recipe['training']['charges_weight']}.",
        "",
        "| test split (lrcalc evaluate) | RMSE | MAE |",
        "|---|---|---|",
    ]
    units = {"energy": ("meV/atom", 1000), "forces": ("meV/Å", 1000), "charges": ("me", 1000)}
    for label, (unit, scale) in units.items():
        if label in metrics:
            lines.append(f"| {label} ({unit}) | {metrics[label]['rmse'] * scale:.2f} | {metrics[label]['mae'] * scale:.2f} |")
    lines.append("")
    row = {"name": name, "cutoff": model.config["cutoff"], "method": model.config["long_range"],
           "E": metrics["energy"]["rmse"] * 1000, "F": metrics["forces"]["rmse"] * 1000, "speed": speed}
    if model.config["long_range"] == "qeq":
        r, rmse, rmse_flipped = charge_correlations(model, data_path, result.get("indices") or
                                                    meta["split"]["test"], recipe["data"].get("pbc"))
        lines.append(f"Charges were not a training target. Against the reference charges of the test frames "
                     f"the predicted charges correlate with r = {r:+.3f} (RMSE {rmse * 1000:.1f} me; against "
                     f"the sign-flipped reference {rmse_flipped * 1000:.1f} me).")
        lines.append("")
    lines.append(f"MD speed: {speed:.1f} Langevin steps/s for the 46-atom slab (energy, forces, stress"
                 + (", charges" if model.config["long_range"] == "qeq" else "") + "; one process, "
                 f"{torch.get_num_threads()} threads).")
    lines.append("")
    lines.append("All training frames share one composition, so the per-species energy shifts are not "
                 "individually determined: energies of other compositions (a lone molecule, another "
                 "coverage) carry an unknown offset; differences at fixed composition are what the model knows.")
    rows.append(row)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--md-steps", type=int, default=100)
    args = parser.parse_args()
    from lrcalc.allocator import tune_allocator

    tune_allocator()
    present = [name for name in CARDS if (MODELS_DIR / name).is_file()]
    rows, sections = [], []
    for name in present:
        print(f"measuring {name} ...", flush=True)
        sections.append(card(name, rows, args))
    header = [
        "# Shipped models",
        "",
        "Load any of them by name: `LRCalculator(\"bta_cu.pt\")`; `lrcalc models` lists them, `lrcalc info NAME`",
        "prints a file's config and metadata. This page is written by `python models/recipes/make_cards.py`",
        f"(last run on {platform.machine()} with {os.cpu_count()} cores); every number below was measured by it.",
        "",
        "`example_untrained.pt` has random weights (`models/recipes/make_example_untrained.py`): it",
        "demonstrates the interface and is used by tests; its energies are not physical.",
        "",
        "Licenses: the models are released with lrcalc (MIT); their training data (MIT, see each card)",
        "stays outside this repository.",
        "",
        "## Comparison on the test split",
        "",
        "| model | method | cutoff (Å) | energy RMSE (meV/atom) | force RMSE (meV/Å) | MD steps/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        header.append(f"| `{row['name']}` | {row['method']} | {row['cutoff']:g} | {row['E']:.2f} | {row['F']:.1f} | {row['speed']:.1f} |")
    text = "\n".join(header) + "\n\n" + "\n".join(sections)
    (MODELS_DIR / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
