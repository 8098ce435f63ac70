"""Binding curves of the six dimers: energy against separation, reference DFT and each dimers model.

    python models/recipes/dimers_binding_curves.py [--models dimers_sr.pt dimers_qeq.pt dimers_lorem.pt]

For every dimer (one file of ../shared/data/cace-lr-fit/charged_dimers/) the curve is
E(d) − E(d_max): the energy relative to the largest separation of that dimer, so the plot shows how
the interaction changes with distance whatever the per-molecule energy offset. Frames of the models'
test split are drawn filled. Writes models/dimers_binding_curves.png and prints, per dimer and model,
the RMSE of E(d) − E(d_max) over its frames (meV) and the interaction change the reference shows over
the curve.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parents[1]
DATA = MODELS_DIR.parent.parent / "shared" / "data" / "cace-lr-fit" / "charged_dimers"
KINDS = {"CC": "cation–anion", "CA": "cation–apolar", "PA": "polar–apolar", "CP": "anion–polar",
         "PP": "polar–polar", "AA": "apolar–apolar"}


def dimer_frames():
    """Frames of every dimer, in the order the training data reads them (sorted files)."""
    from ase.io import read

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
        dimers.append((Path(file).stem, frames, list(range(start, start + len(frames)))))
        start += len(frames)
    return dimers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["dimers_sr.pt", "dimers_qeq.pt", "dimers_lorem.pt"])
    parser.add_argument("--output", default=str(MODELS_DIR / "dimers_binding_curves.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import lrcalc

    models = {}
    for name in args.models:
        path = Path(name) if Path(name).is_file() else MODELS_DIR / name
        if path.is_file():
            models[Path(name).stem] = lrcalc.load_model(path)
        else:
            print(f"skipping {name}: not found")
    test = set()
    for model in models.values():
        test |= set(model.metadata.get("training", {}).get("split", {}).get("test", []))

    dimers = dimer_frames()
    figure, axes = plt.subplots(2, 3, figsize=(12, 7), constrained_layout=True)
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
        for (name, model), colour in zip(models.items(), ("tab:blue", "tab:orange", "tab:green")):
            calc = lrcalc.LRCalculator(model)
            energies = []
            for atoms in frames:
                atoms = atoms.copy()
                atoms.calc = calc
                energies.append(atoms.get_potential_energy())
            predicted = (np.array(energies) - energies[far]) * 1000
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
    axes.flat[0].legend(fontsize=8)
    figure.suptitle("Dimer binding curves (filled markers: test frames; 5 Å cutoff for every model)")
    figure.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
