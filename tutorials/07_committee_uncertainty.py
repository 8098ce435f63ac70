"""How sure is the model? A committee of Cu-BTA models and the spread of their predictions.

    python tutorials/07_committee_uncertainty.py [--quick]

`LRCalculator([...])` given several model files evaluates each and returns their mean; its results
also hold the spread: `energy_spread` (eV, the standard deviation of the members' energies) and
`forces_spread` (eV/Å per atom, the length of the force standard-deviation vector). The shipped
committee `bta_cu_committee_{1,2,3}.pt` is three Qeq models of the bta_cu.pt architecture trained on
the same Cu-BTA data from different seeds. Where the data were dense, the members agree; away from
them they were never told what to do, and they disagree. This script moves away from the data in
two ways and prints and plots the spread:

- the molecule lifted off the surface (the training frames all have it adsorbed);
- the slab compressed in-plane (the training frames all have the DFT lattice constant).

A large spread says "do not trust this number"; a small one does not prove the number right (all
members can share a bias). Read the force spread: the energy spread of these members is dominated
by a nearly constant offset between them (their energies differ by tens of meV on every frame), so
it says little about one structure. Writes committee/spread.png and committee/spread.txt.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np

from lrcalc import LRCalculator
from lrcalc.model_file import shipped_models
from lrcalc.structures import bta_on_cu111

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="two points per scan (CI)")
args = parser.parse_args()
members = [f"bta_cu_committee_{k}.pt" for k in (1, 2, 3)]
shipped = [p.name for p in shipped_models()]
missing = [m for m in members if m not in shipped]
if missing:
    raise SystemExit(f"the committee models {missing} are not installed")

calc = LRCalculator(members)
# Start from DFT frames of the test split when the data are beside the repository (the members never
# trained on them); else from the built interface, which (measured) already lies off the data.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cu_bta"
if (DATA / "cu_bta.extxyz").is_file():
    import json

    from ase.io import read

    test = json.loads((DATA / "split.json").read_text())["test"]
    frames = read(DATA / "cu_bta.extxyz", ":")
    in_domain = [frames[i] for i in test[: 2 if args.quick else 8]]
    for frame in in_domain:
        frame.pbc = (True, True, False)  # slabs stored as 3-D periodic (see models/README.md)
    start = in_domain[0]
    print(f"start: test frame {test[0]} of {DATA}")
else:
    in_domain = []
    start = bta_on_cu111()
    print("start: lrcalc.structures.bta_on_cu111() (the Cu-BTA data are not beside the repository)")
molecule = [a.index for a in start if a.symbol != "Cu"]


def spread(atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.get_forces()
    forces_spread = calc.results["forces_spread"]
    return calc.results["energy_spread"], forces_spread[molecule].max(), forces_spread.max()


rows = []
lifts = [0.0, 4.0] if args.quick else [0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0]
strains = [0.0, -0.06] if args.quick else [0.0, -0.02, -0.04, -0.06, -0.08, -0.10]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the point of this script is to leave the training domain
    for frame in in_domain:  # the spread where the members were trained: the reference level
        rows.append(("test frame", 0.0, *spread(frame)))
    for lift in lifts:
        atoms = start.copy()
        atoms.positions[molecule, 2] += lift
        rows.append(("lift", lift, *spread(atoms)))
    for strain in strains:
        atoms = start.copy()
        cell = atoms.cell.copy()
        cell[:2] *= 1 + strain
        atoms.set_cell(cell, scale_atoms=True)
        rows.append(("compress", strain, *spread(atoms)))

print(f"{'structure':<28} {'energy spread (meV)':>20} {'max force spread, BTA (meV/Å)':>30} {'max, all (meV/Å)':>17}")
for kind, value, e_spread, f_molecule, f_all in rows:
    label = {"lift": f"BTA lifted by {value:.1f} Å", "compress": f"slab strained {100 * value:+.0f} % in-plane",
             "test frame": "a DFT test frame"}[kind]
    print(f"{label:<28} {1000 * e_spread:>20.1f} {1000 * f_molecule:>30.1f} {1000 * f_all:>17.1f}")

out = Path("committee")
out.mkdir(exist_ok=True)
with open(out / "spread.txt", "w") as handle:
    handle.write("# scan value energy_spread_eV max_force_spread_BTA_eV_per_A max_force_spread_eV_per_A\n")
    for row in rows:
        handle.write(f"{row[0]} {row[1]:.3f} {row[2]:.6f} {row[3]:.6f} {row[4]:.6f}\n")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
for axis, kind, xlabel in ((left, "lift", "BTA lifted off the surface (Å)"),
                           (right, "compress", "in-plane strain of the slab")):
    data = np.array([row[1:] for row in rows if row[0] == kind], dtype=float)
    axis.plot(data[:, 0], 1000 * data[:, 2], "o-", label="max over BTA atoms")
    axis.plot(data[:, 0], 1000 * data[:, 3], "s--", label="max over all atoms")
    reference = [1000 * row[3] for row in rows if row[0] == "test frame"]
    if reference:
        axis.axhline(np.median(reference), color="gray", linestyle=":", label="median over DFT test frames")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("force spread (meV/Å)")
    axis.legend()
left.set_title("committee of 3 Qeq models")
figure.savefig(out / "spread.png", dpi=120)
print(f"wrote {out / 'spread.png'} and {out / 'spread.txt'}")
