"""Relax benzotriazole (BTA) on Cu(111): build the interface, relax it, inspect the result.

    python tutorials/02_relax_bta_on_cu111.py [--model bta_cu.pt] [--quick]

Writes relax_bta/relaxed.extxyz and relax_bta/relax.traj (open it with `ase gui`).
"""

import argparse
import warnings
from pathlib import Path

from ase.io import write

from lrcalc import LRCalculator, analysis, md, relax
from lrcalc.model_file import shipped_models
from lrcalc.structures import bta_on_cu111

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default=None, help="default: bta_cu.pt when shipped, else example_untrained.pt")
parser.add_argument("--quick", action="store_true", help="a few steps only (CI)")
args = parser.parse_args()
shipped = [p.name for p in shipped_models()]
model = args.model or ("bta_cu.pt" if "bta_cu.pt" in shipped else "example_untrained.pt")
if model == "example_untrained.pt":
    print("note: using the UNTRAINED example model: the relaxed geometry is not physical")

# 1. Build: a 4×4×2 Cu(111) slab with BTA lying flat 3.0 Å above it (46 atoms, like the DFT data,
#    and in the adsorption geometry the shipped models were trained on: see lrcalc.structures).
atoms = bta_on_cu111()
surface = [a.index for a in atoms if a.symbol == "Cu"]
molecule = [a.index for a in atoms if a.symbol != "Cu"]
atoms.calc = LRCalculator(model)
print(f"{len(atoms)} atoms; start: height {analysis.adsorption_height(atoms, molecule, surface):.2f} Å, "
      f"tilt {analysis.molecule_tilt(atoms, molecule):.1f}°, energy {atoms.get_potential_energy():.4f} eV")

# 2. Relax positions with the bottom Cu layer held fixed (bulk-like).
out = Path("relax_bta")
out.mkdir(exist_ok=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore" if args.quick else "default")
    result = relax(atoms, fmax=0.05, optimizer="FIRE", fix=md.bottom_layers(atoms, 1),
                   steps=5 if args.quick else 400, trajectory=out / "relax.traj")
write(out / "relaxed.extxyz", atoms)

# 3. What happened.
print(f"converged: {result.converged} after {result.steps} steps, largest force {result.fmax_eV_per_A:.4f} eV/Å")
print(f"end: height {analysis.adsorption_height(atoms, molecule, surface):.2f} Å, "
      f"tilt {analysis.molecule_tilt(atoms, molecule):.1f}°, energy {result.energy_eV:.4f} eV")
if "charges" in atoms.calc.results:
    print(f"charge on the molecule: {atoms.get_charges()[molecule].sum():+.3f} e")
print(f"wrote {out / 'relaxed.extxyz'} and {out / 'relax.traj'}")
