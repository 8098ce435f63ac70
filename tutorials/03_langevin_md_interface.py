"""Langevin MD of benzotriazole on Cu(111), then analysis with plots.

    python tutorials/03_langevin_md_interface.py [--model bta_cu.pt] [--steps 2000] [--quick]

Writes md_bta/: md.traj (trajectory), md.csv (log), md.png (temperature, energies), adsorption.png
(height and tilt of the molecule), rdf.png (Cu–N and Cu–C), charges.png (models with charges).
"""

import argparse
from pathlib import Path

from ase.io import read

from lrcalc import LRCalculator, analysis, md
from lrcalc.model_file import shipped_models
from lrcalc.structures import bta_on_cu111

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default=None, help="default: bta_cu.pt when shipped, else example_untrained.pt")
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--quick", action="store_true", help="20 steps only (CI)")
args = parser.parse_args()
shipped = [p.name for p in shipped_models()]
model = args.model or ("bta_cu.pt" if "bta_cu.pt" in shipped else "example_untrained.pt")
if model == "example_untrained.pt":
    print("note: using the UNTRAINED example model: the dynamics are not physical")
steps = 20 if args.quick else args.steps
timestep_fs = 0.5

atoms = bta_on_cu111()
atoms.calc = LRCalculator(model)
surface = [a.index for a in atoms if a.symbol == "Cu"]
molecule = [a.index for a in atoms if a.symbol != "Cu"]
out = Path("md_bta")
out.mkdir(exist_ok=True)

# Langevin at 300 K, bottom Cu layer fixed, a frame every 10 steps (5 fs).
result = md.run(atoms, "langevin", temperature_K=300, timestep_fs=timestep_fs, steps=steps, interval=10,
                fix=md.bottom_layers(atoms, 1), trajectory=out / "md.traj", logfile=out / "md.csv")
print(f"mean temperature {result.mean_temperature_K:.1f} K over {steps} steps")

frames = read(out / "md.traj", ":")
frame_dt = 10 * timestep_fs
plots = [
    analysis.plot_md_log(out / "md.csv", out / "md.png", num_atoms=len(atoms)),
    analysis.plot_adsorption(frames, molecule, surface, frame_dt, out / "adsorption.png"),
]
# The RDF needs a 3-D cell: give the slab frames periodicity along z too (the vacuum keeps images apart).
periodic = [f.copy() for f in frames]
for f in periodic:
    f.pbc = True
plots.append(analysis.plot_rdf(periodic, [("Cu", "N"), ("Cu", "C")], out / "rdf.png", r_max=6.0))
if "charges" in atoms.calc.results:
    plots.append(analysis.plot_charges(frames, frame_dt, out / "charges.png"))
    for element, s in analysis.charge_statistics(frames).items():
        print(f"  {element}: mean charge {s['mean']:+.3f} e (σ {s['std']:.3f})")
print(f"final adsorption height {analysis.adsorption_height(atoms, molecule, surface):.2f} Å, "
      f"tilt {analysis.molecule_tilt(atoms, molecule):.1f}°")
print("wrote", ", ".join(plots))
