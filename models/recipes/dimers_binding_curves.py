"""Binding curves of the six dimers: energy against separation, reference DFT and each dimers model.

    python models/recipes/dimers_binding_curves.py [--models dimers_sr.pt dimers_qeq.pt dimers_lorem.pt
                                                    dimers_qeq_fragments.pt]

For every dimer (one file of ../shared/data/cace-lr-fit/charged_dimers/) the curve is
E(d) − E(d_max): the energy relative to the largest separation of that dimer, so the plot shows how
the interaction changes with distance whatever the per-molecule energy offset. Frames of the models'
test split are drawn filled. Writes models/dimers_binding_curves.png and prints, per dimer and model,
the RMSE of E(d) − E(d_max) over its frames (meV) and the interaction change the reference shows over
the curve, then the cation–apolar (CA) curve point by point, with E(5 Å) − E(d_max) interpolated
linearly between the frames around 5 Å.

Every frame carries its two molecules as fragments (``lrcalc.training.data.assign_fragments``: molecule A
is atoms 0 … indexB−1, with the charges chargeA/chargeB given to the molecules they leave
closed-shell, as in dimers_qeq_fragments.yaml); models with ``charge_constraint: fragments`` keep
each molecule's charge, the others ignore the fragments. ``NAME.pt:fragments`` runs a Qeq model with
its weights unchanged but the fragment constraint (inference only: its electronegativities were
trained for the total-charge constraint).
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["dimers_sr.pt", "dimers_qeq.pt", "dimers_lorem.pt", "dimers_qeq_fragments.pt"]
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
CA_DISTANCE = 5.0  # Å, where the CA curve is compared
DATA = MODELS_DIR.parent.parent / "shared" / "data" / "cace-lr-fit" / "charged_dimers"
KINDS = {"CC": "cation–anion", "CA": "cation–apolar", "PA": "polar–apolar", "CP": "anion–polar",
         "PP": "polar–polar", "AA": "apolar–apolar"}


def dimer_frames():
    """Frames of every dimer, in the order the training data reads them (sorted files)."""
    from ase.io import read

    from lrcalc.training.data import assign_fragments

    files = sorted(glob.glob(str(DATA / "train-*.xyz")))
    if not files:
        raise SystemExit(f"no dimer data under {DATA}")
    dimers, start = [], 0
    for file in files:
        frames = read(file, index=":")
        for atoms in frames:
            atoms.info["reference_energy"] = atoms.get_potential_energy()  # before pbc changes
            atoms.pbc = False
            atoms.info["charge"] = float(atoms.info["chargeA"] + atoms.info["chargeB"])
        assign_fragments(frames, "indexB", ["chargeA", "chargeB"], order="closed_shell", label=file)
        dimers.append((Path(file).stem, frames, list(range(start, start + len(frames)))))
        start += len(frames)
    return dimers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--output", default=str(MODELS_DIR / "dimers_binding_curves.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import lrcalc

    models = {}
    for spec in args.models:
        name, _, variant = spec.partition(":")
        path = Path(name) if Path(name).is_file() else MODELS_DIR / name
        if not path.is_file():
            print(f"skipping {name}: not found")
            continue
        model = lrcalc.load_model(path)
        if variant == "fragments":  # the same weights, with the charge of each molecule kept
            constrained = lrcalc.build_model({**model.config, "charge_constraint": "fragments"})
            constrained.load_state_dict(model.state_dict())
            constrained.metadata = model.metadata
            model = constrained
        models[Path(name).stem + (f" ({variant})" if variant else "")] = model
    test = set()
    for model in models.values():
        test |= set(model.metadata.get("training", {}).get("split", {}).get("test", []))

    dimers = dimer_frames()
    figure, axes = plt.subplots(2, 3, figsize=(12, 7), constrained_layout=True)
    curves = {}  # label → (distances, {name: E(d) − E(d_max) in meV})
    print(f"{'dimer':>14} {'ΔE ref (meV)':>13} " + " ".join(f"{name + ' RMSE':>18}" for name in models))
    for ax, (stem, frames, indices) in zip(axes.flat, dimers):
        label = frames[0].info.get("label", stem)
        distance = np.array([atoms.info["distance"] for atoms in frames])
        order = np.argsort(distance)
        far = int(np.argmax(distance))
        reference = np.array([atoms.info["reference_energy"] for atoms in frames])
        reference = (reference - reference[far]) * 1000
        ax.plot(distance[order], reference[order], "k-", lw=2, label="DFT reference")
        cells = []
        curves[label] = (distance[order], {"DFT": reference[order]})
        for (name, model), colour in zip(models.items(), COLOURS):
            calc = lrcalc.LRCalculator(model)
            energies = []
            for atoms in frames:
                atoms = atoms.copy()
                atoms.calc = calc
                energies.append(atoms.get_potential_energy())
            predicted = (np.array(energies) - energies[far]) * 1000
            curves[label][1][name] = predicted[order]
            cells.append(f"{np.sqrt(np.mean((predicted - reference) ** 2)):18.1f}")
            ax.plot(distance[order], predicted[order], "-", color=colour, label=name)
            in_test = np.array([k in test for k in indices])
            ax.plot(distance[in_test], predicted[in_test], "o", color=colour, ms=5)
            ax.plot(distance[~in_test], predicted[~in_test], "o", color=colour, ms=5, mfc="none")
        charges = f"{frames[0].info['chargeA']:+g}/{frames[0].info['chargeB']:+g}"
        ax.set_title(f"{label} ({KINDS.get(label, '')}, charges {charges})")
        ax.set_xlabel("separation d (Å)")
        ax.set_ylabel("E(d) − E(d_max) (meV)")
        print(f"{label:>14} {np.ptp(reference):13.1f} " + " ".join(cells))
    distance, values = curves["CA"]
    print("\nCA (cation–apolar) curve, E(d) − E(d_max) in meV")
    print(f"{'d (Å)':>8} " + " ".join(f"{name:>{max(len(name), 8)}}" for name in values))
    rows = [(f"{d:8.2f}", [v[k] for v in values.values()]) for k, d in enumerate(distance)]
    rows.append((f"{CA_DISTANCE:8.2f}*", [float(np.interp(CA_DISTANCE, distance, v)) for v in values.values()]))
    for d, cells in rows:
        print(f"{d:>8} " + " ".join(f"{c:>{max(len(name), 8)}.1f}" for name, c in zip(values, cells)))
    print(f"(* interpolated linearly between the frames at {distance[distance < CA_DISTANCE].max():.2f} and "
          f"{distance[distance > CA_DISTANCE].min():.2f} Å)")
    axes.flat[0].legend(fontsize=8)
    figure.suptitle("Dimer binding curves (filled markers: test frames; 5 Å cutoff for every model)")
    figure.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
