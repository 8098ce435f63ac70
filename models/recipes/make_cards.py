"""Measure the shipped models and write their cards (models/README.md). Every number is measured here.

    python models/recipes/make_cards.py [--md-steps 100]

For each trained model: test-split RMSE/MAE of energy, forces and charges by ``lrcalc evaluate``,
the correlation of predicted with reference charges (and with their negative: the reference charges
of these data sets look sign-flipped), MD speed (Langevin steps/s, 46-atom BTA/Cu(111) slab, this
machine, tuned allocator, single structure), and the training facts from the model's metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from speed import evaluation_speed, md_speed  # the shared speed measurement (same folder)

MODELS_DIR = Path(__file__).resolve().parents[1]
REPO = MODELS_DIR.parent


def earlier_stages(recipe_file: str) -> list[str]:
    """The recipes of a continued run's earlier stages, in order: ``X_stageK.yaml`` follows ``X.yaml``,
    ``X_stage2.yaml``, …, ``X_stage{K-1}.yaml``."""
    stem, _, stage = recipe_file.removesuffix(".yaml").rpartition("_stage")
    if not stem or not stage.isdigit():
        raise ValueError(f"{recipe_file}: a continued run's recipe is named NAME_stageK.yaml")
    return [f"{stem}.yaml"] + [f"{stem}_stage{k}.yaml" for k in range(2, int(stage))]


# name: (data folder, what it is); the recipe is the one the model file names (its metadata)
CARDS = {
    "bta_cu.pt": ("cu_bta", "NequIP-LR (Qeq) model, benzotriazole on Cu(111)"),
    "bta_cu_sr.pt": ("cu_bta", "short-range baseline of bta_cu.pt (same size and cutoff)"),
    "bta_cu_qeq3.pt": ("cu_bta", "NequIP-LR (Qeq) model with a 3 Å cutoff"),
    "bta_cu_lorem.pt": ("cu_bta", "LOREM (equivariant charges) model, same size and cutoff"),
    "bta_cu_committee_1.pt": ("cu_bta",
                              "committee member 1 of 3 (seed 1, 40 + 80 epochs; use the three together)"),
    "bta_cu_committee_2.pt": ("cu_bta",
                              "committee member 2 of 3 (seed 2, 40 + 80 epochs; use the three together)"),
    "bta_cu_committee_3.pt": ("cu_bta",
                              "committee member 3 of 3 (seed 3, 40 + 80 epochs; use the three together)"),
    "bta_ion_cu.pt": ("cu_bta_ion", "NequIP-LR (Qeq) model, BTA⁻ + H₃O⁺ on Cu(111)"),
    "bta_ion_cu_sr.pt": ("cu_bta_ion", "short-range baseline of bta_ion_cu.pt"),
    "dimers_sr.pt": ("cace-lr-fit/charged_dimers", "short-range model of six molecular dimers"),
    "dimers_qeq.pt": ("cace-lr-fit/charged_dimers", "NequIP-LR (Qeq) model of six molecular dimers"),
    "dimers_lorem.pt": ("cace-lr-fit/charged_dimers", "LOREM model of six molecular dimers"),
    "dimers_qeq_fragments.pt": ("cace-lr-fit/charged_dimers",
                                "NequIP-LR (Qeq) model of six molecular dimers, the charge of each molecule kept"),
}
FAMILIES = {  # data folder: (comparison table title, citation and license)
    "cu_bta": ("Cu-BTA (benzotriazole on Cu(111)), test split", (
        "M. Maruf, S. Kim, Z. Ahmad, \"Equivariant Machine Learning Interatomic Potentials with Global "
        "Charge Redistribution\", arXiv:2503.17949 (data: github.com/ahmad-research-group/nequip-charge, "
        "commit b76c5ca, MIT license)")),
    "cu_bta_ion": ("Cu-BTA-ion (BTA⁻ + H₃O⁺ on Cu(111)), test split", None),
    "cace-lr-fit/charged_dimers": ("Charged, polar and apolar dimers, test split", (
        "data of the CACE long-range fits, github.com/BingqingCheng/cace-lr-fit (fit-lode/lode-datasets, "
        "commit d7bd8c8), CC BY-NC 4.0: the dimers models are for non-commercial research use")),
}
FAMILIES["cu_bta_ion"] = (FAMILIES["cu_bta_ion"][0], FAMILIES["cu_bta"][1])


def md_system(folder):
    """The system of the MD speed figure: the 46-atom BTA/Cu(111) slab, or the first dimer frame."""
    if folder.startswith("cace-lr-fit"):
        from ase.io import read

        from lrcalc.training.data import assign_fragments

        atoms = read(REPO.parent / "shared" / "data" / folder / "train-id0.xyz", index=0)
        atoms.pbc = False
        atoms.info["charge"] = 0.0
        # its two molecules as fragments (read by models with charge_constraint: fragments only)
        assign_fragments([atoms], "indexB", ["chargeA", "chargeB"], order="closed_shell")
        return atoms, f"the {len(atoms)}-atom CC dimer (charges +1/−1)"
    from lrcalc.structures import bta_on_cu111

    return bta_on_cu111(), "the 46-atom slab"  # every slab model knows its elements


def speed_in_fresh_process(name: str, steps: int) -> float:
    """:func:`md_speed` (or :func:`evaluation_speed` for the dimers models) of a shipped model,
    measured in a new process: run one after another in this process, later models came out slower
    (bta_cu_lorem.pt 29.0 steps/s here, 36.3 alone)."""
    output = subprocess.run([sys.executable, __file__, "--speed", name, "--md-steps", str(steps)],
                            check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def _measure_speed(name: str, steps: int) -> float:
    import lrcalc

    folder = CARDS[name][0]
    system, _ = md_system(folder)
    speed = evaluation_speed if folder.startswith("cace-lr-fit") else md_speed
    return speed(lrcalc.load_model(MODELS_DIR / name), steps, system)


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

    folder, what = CARDS[name]
    model = lrcalc.load_model(MODELS_DIR / name)
    recipe_file = Path(model.metadata["recipe"]).name  # models/recipes/NAME.yaml, written by export.py
    recipe = yaml.safe_load((MODELS_DIR / "recipes" / recipe_file).read_text())
    meta = model.metadata.get("training", {})
    data_path = str(REPO / recipe["data"]["path"])  # a file or a glob pattern
    test = meta["split"]["test"]  # the split the run used (fixed file or seeded random split)
    result = evaluate(model, data_path, indices=test)
    metrics = result["metrics"]
    system, system_name = md_system(folder)
    dimers = folder.startswith("cace-lr-fit")
    # the dimers models know rigid molecules only (the data are distance scans): MD breaks them
    # apart within 100 steps, so their speed is given per evaluation
    speed = speed_in_fresh_process(name, args.md_steps)
    method = model.config["long_range"]
    constraint = model.config.get("charge_constraint", "total")
    layers = f"{model.config['num_layers']}"
    if method == "qeq":
        layers += f" + {model.config['num_layers_feedback']}"
    if method == "lorem":
        layers += (f" layers with {model.config['num_lr_steps']} long-range step(s), charges l ≤ "
                   f"{model.config['lorem_l_max']} × {model.config['lorem_channels']} channels; ")
    else:
        layers += " interaction layers, "
    split_kind = "fixed split" if recipe["data"].get("split_file") else (
        f"random split (fractions {recipe['data'].get('split_fractions')}, seed {recipe['data'].get('split_seed', 0)})")
    stages, first_epochs = "", 0
    if recipe["training"].get("init_model"):  # a continued run: name its earlier stages
        earlier = earlier_stages(recipe_file)
        epochs = [yaml.safe_load((MODELS_DIR / "recipes" / r).read_text())["training"]["max_epochs"] for r in earlier]
        first_epochs = sum(epochs)
        stages = "".join(f"stage {k + 1} `lrcalc train models/recipes/{r}` ({n} epochs), "
                         for k, (r, n) in enumerate(zip(earlier, epochs)))
        stages += f"then stage {len(earlier) + 1} from its best model: "
    lines = [f"## `{name}` — {what}", ""]
    lines += [
        f"- **Data**: `../shared/data/{folder}/` ({meta.get('dataset', {}).get('num_frames', '?')} frames, "
        f"sha256 {meta.get('dataset', {}).get('sha256', '?')[:16]}…); {split_kind} "
        f"{len(meta.get('split', {}).get('train', []))} train / {len(meta.get('split', {}).get('val', []))} val / "
        f"{len(test)} test; pbc = {recipe['data'].get('pbc')}, total charge from "
        f"`{recipe['data'].get('total_charge_key')}`"
        + (f"; fragments from `{recipe['data']['fragment_key']}` with charges "
           f"`{recipe['data'].get('fragment_charge_keys')}` ({recipe['data'].get('fragment_charge_order', 'as_listed')})"
           if recipe["data"].get("fragment_key") else "") + ".",
        f"- **Cite**: {FAMILIES[folder][1]}.",
        f"- **Model**: `long_range: {method}`"
        + (f", `charge_constraint: {constraint}`" if constraint != "total" else "")
        + f", cutoff {model.config['cutoff']:g} Å, {layers}"
        f"l_max {model.config['l_max']}, {model.config['num_features']} features, "
        f"{model.config['dtype']}, {sum(p.numel() for p in model.parameters())} parameters.",
        f"- **Training**: {stages}`lrcalc train models/recipes/{recipe_file}`; {meta.get('epochs')} epochs (best "
        f"{meta.get('best_epoch')}), {meta.get('training_time_s', 0) / 60:.0f} min on a 2-core x86_64 CPU "
        f"(one thread, shared with other jobs); loss weights energy {recipe['training']['energy_weight']}, "
        f"forces {recipe['training']['forces_weight']}, charges {recipe['training'].get('charges_weight', 0.0)}.",
        "",
        "| test split (lrcalc evaluate) | RMSE | MAE |",
        "|---|---|---|",
    ]
    units = {"energy": ("meV/atom", 1000), "forces": ("meV/Å", 1000), "charges": ("me", 1000)}
    for label, (unit, scale) in units.items():
        if label in metrics:
            lines.append(f"| {label} ({unit}) | {metrics[label]['rmse'] * scale:.2f} | {metrics[label]['mae'] * scale:.2f} |")
    lines.append("")
    row = {"name": name, "cutoff": model.config["cutoff"], "method": method, "family": folder,
           "E": metrics["energy"]["rmse"] * 1000, "F": metrics["forces"]["rmse"] * 1000, "speed": speed,
           "system": system_name, "epochs": (meta.get("epochs") or 0) + (first_epochs if stages else 0)}
    if method == "qeq" and not folder.startswith("cace-lr-fit"):
        r, rmse, rmse_flipped = charge_correlations(model, data_path, result.get("indices") or
                                                    meta["split"]["test"], recipe["data"].get("pbc"))
        lines.append(f"Charges were not a training target. Against the reference charges of the test frames "
                     f"the predicted charges correlate with r = {r:+.3f} (RMSE {rmse * 1000:.1f} me; against "
                     f"the sign-flipped reference {rmse_flipped * 1000:.1f} me).")
        lines.append("")
    if dimers:
        lines.append(f"Speed: {speed:.1f} evaluations/s (energy and forces) of {system_name}; one process, "
                     f"{torch.get_num_threads()} threads. Not an MD model: the training data are distance "
                     "scans of rigid molecules, and Langevin MD of the CC dimer at 300 K pushed an H atom "
                     "onto an N atom within 100 steps (measured with dimers_sr.pt).")
    else:
        lines.append(f"MD speed: {speed:.1f} Langevin steps/s for {system_name} (energy, forces"
                     + (", stress" if system.pbc.any() else "") + (", charges" if method == "qeq" else "")
                     + f"; one process, {torch.get_num_threads()} threads).")
    lines.append("")
    if folder.startswith("cace-lr-fit"):
        lines.append("Binding curves of every dimer against the reference: `models/dimers_binding_curves.png` "
                     "(`python models/recipes/dimers_binding_curves.py`).")
    else:
        lines.append("All training frames share one composition, so the per-species energy shifts are not "
                     "individually determined: energies of other compositions (a lone molecule, another "
                     "coverage) carry an unknown offset; differences at fixed composition are what the model knows.")
    rows.append(row)
    return "\n".join(lines) + "\n"


# Ablations of the seed paper (issue 17): runs that are not shipped. Their test metrics are measured
# here from runs/NAME/best.pt when that run is present and kept in models/ablations.json (what
# `lrcalc evaluate` printed for it), so the table survives a fresh clone; rerun a recipe to refresh.
ABLATIONS = {  # run: (recipe, what it tests)
    "bta_cu_ablation_nocharges": ("bta_cu_ablation_nocharges.yaml",
                                  "bta_cu.pt + 30 epochs, no charge loss (the control)"),
    "bta_cu_ablation_charges": ("bta_cu_ablation_charges.yaml",
                                "bta_cu.pt + 30 epochs, charge loss 0.5 on −initial_charges"),
    # design ablations: 40 epochs from scratch, seed 1, each differing from the control in one thing
    "bta_cu_committee_1": ("bta_cu_committee_1.yaml",
                           "40 epochs from scratch (seed 1) of bta_cu.pt's design: 2 + 1 layers, learned "
                           "widths, charge embedding on ±1.5 e (the control of the rows below)"),
    "bta_cu_ablation_sr40": ("bta_cu_ablation_sr40.yaml", "short range instead (bta_cu_sr.pt's 3 layers), same budget"),
    "bta_cu_ablation_depth33": ("bta_cu_ablation_depth33.yaml", "3 + 3 layers (the NequIP-LR authors' depths)"),
    "bta_cu_ablation_sr6": ("bta_cu_ablation_sr6.yaml", "short range with 6 layers (the depth of 3 + 3), same budget"),
    "bta_cu_ablation_fixed_sigma": ("bta_cu_ablation_fixed_sigma.yaml", "fixed widths σ_Z (the covalent radii)"),
    "bta_cu_ablation_qmax05": ("bta_cu_ablation_qmax05.yaml", "charge embedding on ±0.5 e"),
    # the two deep runs, 60 more epochs each (learning rate 0.002, energy weight 10): does the gap hold?
    "bta_cu_ablation_depth33_stage2": ("bta_cu_ablation_depth33_stage2.yaml",
                                       "3 + 3 layers, + 60 epochs (energy weight 10)"),
    "bta_cu_ablation_sr6_stage2": ("bta_cu_ablation_sr6_stage2.yaml", "short range, 6 layers, + 60 epochs (the same)"),
    # LOREM's loss weights: 30 more epochs from stage 2 of bta_cu_lorem.pt (learning rate 0.0005)
    "bta_cu_ablation_lorem_ew4": ("bta_cu_ablation_lorem_ew4.yaml",
                                  "LOREM stage 2 + 30 epochs at its energy weight 4 (the control)"),
    "bta_cu_ablation_lorem_ew20": ("bta_cu_ablation_lorem_ew20.yaml",
                                   "LOREM stage 2 + 30 epochs, energy weight 20 (shipped as stage 3 of bta_cu_lorem.pt)"),
    # the 3 Å model at the authors' depths: does depth let the short cutoff suffice?
    "bta_cu_ablation_qeq3_depth33": ("bta_cu_ablation_qeq3_depth33.yaml",
                                     "3 Å Qeq with 3 + 3 layers (bta_cu_qeq3.pt: 2 + 1), 100 epochs from scratch"),
}
ABLATION_FILE = MODELS_DIR / "ablations.json"


def ablation_rows() -> dict:
    """Test metrics of every ablation run (measured now where runs/NAME/best.pt exists, else as stored)."""
    import lrcalc
    from lrcalc.training import evaluate

    stored = json.loads(ABLATION_FILE.read_text()) if ABLATION_FILE.is_file() else {}
    for run, (recipe_file, what) in ABLATIONS.items():
        best = REPO / "runs" / run / "best.pt"
        if not best.is_file():
            continue
        recipe = yaml.safe_load((MODELS_DIR / "recipes" / recipe_file).read_text())
        model = lrcalc.load_model(best)
        meta = model.metadata["training"]
        metrics = evaluate(model, str(REPO / recipe["data"]["path"]), indices=meta["split"]["test"])["metrics"]
        stored[run] = {"recipe": f"models/recipes/{recipe_file}", "what": what, "epochs": meta.get("epochs"),
                       **{f"{label}_rmse": metrics[label]["rmse"] for label in ("energy", "forces", "charges")
                          if label in metrics}}
        if "charges_scale" not in recipe["data"]:  # charges compared only where the run set their sign
            stored[run].pop("charges_rmse", None)
    if stored:
        ABLATION_FILE.write_text(json.dumps(stored, indent=1) + "\n")
    return stored


def ablation_section(rows: dict, shipped: list | None = None) -> list[str]:
    """The ablation table and its findings; ``shipped`` (the card rows) for comparisons with shipped models."""
    if not rows:
        return []
    lines = ["## Ablations: Cu-BTA, test split (not shipped)", "",
             "Each row is a training run from its recipe, evaluated with `lrcalc evaluate` on the fixed test split; "
             "charges against the reference with its sign flipped (−`initial_charges`, the physical sign: the H on "
             "N is stored at −0.150 e, the H on C at −0.045 to −0.063 e, N at +0.039 e).", "",
             "| run | what | epochs | energy RMSE (meV/atom) | force RMSE (meV/Å) | charge RMSE (me) |",
             "|---|---|---|---|---|---|"]
    for run, row in rows.items():
        charges = f"{row['charges_rmse'] * 1000:.1f}" if "charges_rmse" in row else "–"
        lines.append(f"| [`{run}`]({row['recipe'].replace('models/', '')}) | {row['what']} | {row['epochs']} | "
                     f"{row['energy_rmse'] * 1000:.2f} | {row['forces_rmse'] * 1000:.1f} | {charges} |")
    pairs = [("bta_cu_committee_1", "bta_cu_ablation_sr40", "2 + 1 layers against 3", "40"),
             ("bta_cu_ablation_depth33", "bta_cu_ablation_sr6", "3 + 3 layers against 6", "40"),
             ("bta_cu_ablation_depth33_stage2", "bta_cu_ablation_sr6_stage2", "3 + 3 layers against 6", "40 + 60")]
    findings = []
    for qeq, short, depths, epochs in pairs:
        if qeq in rows and short in rows:
            ratio = rows[qeq]["forces_rmse"] / rows[short]["forces_rmse"]
            findings.append(f"- Qeq at most 0.9× short range in force RMSE after the same {epochs} epochs, {depths}: "
                            f"**{'yes' if ratio <= 0.9 else 'no'}** — ratio {ratio:.2f} "
                            f"({rows[qeq]['forces_rmse'] * 1000:.1f} against {rows[short]['forces_rmse'] * 1000:.1f} meV/Å).")
    short_range = next((row for row in shipped or [] if row["name"] == "bta_cu_sr.pt"), None)
    deep3 = rows.get("bta_cu_ablation_qeq3_depth33")
    if deep3 and short_range:
        ratio = deep3["forces_rmse"] * 1000 / short_range["F"]
        findings.append(f"- The 3 Å Qeq model with 3 + 3 layers at least as accurate as the 5 Å short-range "
                        f"`bta_cu_sr.pt` in force RMSE: **{'yes' if ratio <= 1 else 'no'}** — "
                        f"{deep3['forces_rmse'] * 1000:.1f} against {short_range['F']:.1f} meV/Å "
                        f"({deep3['epochs']} against {short_range.get('epochs', '?')} epochs).")
    if findings:
        lines += [""] + findings
    return lines + [""]


def _ratio_text(ratio: float, threshold: float = 0.9) -> str:
    """The ratio with enough digits to show on which side of the threshold it lies."""
    digits = 3
    while digits < 6 and round(ratio, digits) == threshold and ratio != threshold:
        digits += 1
    return f"{ratio:.{digits}f}"


#: force standard deviation of each data set (eV/Å), from its SOURCE.md
FORCE_STD = {"cu_bta": 0.52, "cu_bta_ion": 0.53}


def findings(family, members) -> list[str]:
    """The seed paper's comparisons, stated from the measured rows."""
    by_name = {row["name"]: row for row in members}
    lines = []

    def compare(a, b, claim):
        if a in by_name and b in by_name:
            fa, fb = by_name[a]["F"], by_name[b]["F"]
            verdict = "yes" if fa <= fb else "no"
            lines.append(f"- {claim}: **{verdict}** — `{a}` {fa:.1f} meV/Å against `{b}` {fb:.1f} meV/Å.")

    if family == "cu_bta":
        compare("bta_cu.pt", "bta_cu_sr.pt", "Qeq beats short range at the same cutoff (5 Å) in force RMSE")
        if "bta_cu.pt" in by_name and "bta_cu_sr.pt" in by_name:
            ratio = by_name["bta_cu.pt"]["F"] / by_name["bta_cu_sr.pt"]["F"]
            lines.append(f"- Qeq at most 0.9× short range in force RMSE, the same training budget: "
                         f"**{'yes' if ratio <= 0.9 else 'no'}** — ratio {_ratio_text(ratio)}.")
        compare("bta_cu_qeq3.pt", "bta_cu_sr.pt", "The 3 Å Qeq model is at least as accurate as the 5 Å short-range model")
        compare("bta_cu_lorem.pt", "bta_cu_sr.pt", "LOREM beats short range at the same cutoff")
    if family == "cu_bta_ion":
        compare("bta_ion_cu.pt", "bta_ion_cu_sr.pt", "Qeq beats short range at the same cutoff (5 Å) in force RMSE")
        if "bta_ion_cu.pt" in by_name and "bta_ion_cu_sr.pt" in by_name:
            ratio = by_name["bta_ion_cu.pt"]["F"] / by_name["bta_ion_cu_sr.pt"]["F"]
            lines.append(f"- Qeq at most 0.9× short range in force RMSE, the same training budget: "
                         f"**{'yes' if ratio <= 0.9 else 'no'}** — ratio {_ratio_text(ratio)}.")
    if family.startswith("cace-lr-fit"):
        compare("dimers_qeq.pt", "dimers_sr.pt", "Qeq beats short range in force RMSE")
        compare("dimers_lorem.pt", "dimers_sr.pt", "LOREM beats short range in force RMSE")
        compare("dimers_qeq_fragments.pt", "dimers_qeq.pt",
                "Qeq with the charge of each molecule kept beats global Qeq in force RMSE")
    epochs = sorted({row["epochs"] for row in members})
    if len(epochs) > 1:
        lines.append("- Training lengths differ: " + ", ".join(f"`{row['name']}` {row['epochs']} epochs" for row in members)
                     + " (each card says how).")
    if family in FORCE_STD:
        aim = 0.05 * FORCE_STD[family] * 1000
        met = [f"`{row['name']}`" for row in members if row["F"] < aim]
        lines.append(f"- Force RMSE below 5 % of the test set's force standard deviation ({FORCE_STD[family]} eV/Å, "
                     f"so {aim:.1f} meV/Å): {', '.join(met) if met else 'no model'}.")
    above = [f"`{row['name']}` ({row['E']:.2f})" for row in members if row["E"] > 1.0]
    lines.append("- Energy RMSE at most 1 meV/atom: " + ("every model." if not above else
                 "**no** for " + ", ".join(above) + "."))
    return lines + [""] if lines else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--md-steps", type=int, default=100)
    parser.add_argument("--speed", default=None, help=argparse.SUPPRESS)  # one model's speed (a child process)
    args = parser.parse_args()
    from lrcalc.allocator import tune_allocator

    tune_allocator()
    if args.speed:
        print(_measure_speed(args.speed, args.md_steps))
        return
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
        "Licenses: the Cu-BTA models are released with lrcalc (MIT), their training data is MIT; the",
        "dimers models were trained on CC BY-NC 4.0 data and are for non-commercial research use. No",
        "training data is stored in this repository.",
        "",
    ]
    for family, (title, _) in FAMILIES.items():
        members = [row for row in rows if row["family"] == family]
        if not members:
            continue
        header += [f"## Comparison: {title}", "",
                   "| model | method | cutoff (Å) | energy RMSE (meV/atom) | force RMSE (meV/Å) | speed (1/s) |",
                   "|---|---|---|---|---|---|"]
        for row in members:
            header.append(f"| `{row['name']}` | {row['method']} | {row['cutoff']:g} | {row['E']:.2f} | "
                          f"{row['F']:.1f} | {row['speed']:.1f} |")
        speed_unit = "evaluations/s" if family.startswith("cace-lr-fit") else "MD steps/s"
        header += ["", f"Speed: {speed_unit} on {members[0]['system']}.", ""]
        header += findings(family, members)
    header += ablation_section(ablation_rows(), rows)
    study = MODELS_DIR / "size_study.md"
    if study.is_file():  # python models/recipes/size_study.py report > models/size_study.md
        header += ["## How the size was chosen", "", study.read_text().strip(), ""]
    text = "\n".join(header) + "\n\n" + "\n".join(sections)
    (MODELS_DIR / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
