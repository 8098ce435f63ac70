"""Benzotriazole (BTA) on Cu(111) in an electric field: adsorption energy, dipole and Born charges.

    python tutorials/06_electric_field.py [--model bta_cu.pt] [--quick]

A uniform field E (V/Å) along the surface normal acts through its potential −E·r on the model's
charges: for the Qeq model bta_cu.pt the electronegativities shift by −E·r_i before the charge
equilibration, so the copper screens the field and the molecule polarises. This script computes,
for fields from −0.5 to +0.5 V/Å (double-layer fields at an electrode are of this order):

- the adsorption energy E_ads(E) = E(BTA at 3 Å, E) − E(BTA lifted 6 Å higher, E), same atoms in
  both, so the per-species energy offsets cancel;
- the slab's dipole along the normal, μ_n = −∂E/∂E_n (e·Å), and the charge on the molecule;
- the Born effective charges Z*_zz = ∂F_z/∂E_z of the molecule's atoms at zero field.

Read the numbers as what the model extrapolates, not as predictions: the shipped models were
trained on DFT frames at ZERO field. Their response to a field comes from the physics built into
the Qeq model (charges that follow the potential), with electronegativities and hardnesses fitted
without any field in the data. Writes field_bta/adsorption_vs_field.png and .txt.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np

from lrcalc import LRCalculator
from lrcalc.model_file import shipped_models
from lrcalc.structures import bta_on_cu111

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default=None, help="a model with long range (default: bta_cu.pt)")
parser.add_argument("--quick", action="store_true", help="three fields only (CI)")
args = parser.parse_args()
shipped = [p.name for p in shipped_models()]
model = args.model or ("bta_cu.pt" if "bta_cu.pt" in shipped else None)
if model is None:
    raise SystemExit("this tutorial needs a model with long range (bta_cu.pt is not installed)")

fields = np.linspace(-0.5, 0.5, 3 if args.quick else 11)  # V/Å, along +z (out of the surface)
adsorbed = bta_on_cu111()
lifted = adsorbed.copy()
molecule = [a.index for a in adsorbed if a.symbol != "Cu"]
lifted.positions[molecule, 2] += 6.0
calc = LRCalculator(model)

rows = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the lifted geometry lies outside the training data: said above
    for field in fields:
        calc.set(electric_field=(0.0, 0.0, field))
        e_ads = calc.get_potential_energy(adsorbed)
        dipole = calc.get_property("normal_dipole", adsorbed)
        q_molecule = calc.get_charges(adsorbed)[molecule].sum() if "charges" in calc.results else np.nan
        e_lifted = calc.get_potential_energy(lifted)
        rows.append((field, e_ads - e_lifted, dipole, q_molecule))
        print(f"E = {field:+.2f} V/Å: adsorption energy {e_ads - e_lifted:+.4f} eV, normal dipole "
              f"{dipole:+.3f} e·Å, charge on BTA {q_molecule:+.4f} e")
    calc.set(electric_field=None)
    born = calc.get_property("born_effective_charges", adsorbed)

rows = np.array(rows)
zero = np.argmin(np.abs(fields))
print(f"adsorption energy change from 0 to +0.5 V/Å: {rows[-1, 1] - rows[zero, 1]:+.4f} eV; "
      f"to −0.5 V/Å: {rows[0, 1] - rows[zero, 1]:+.4f} eV")
print("Born charges Z*_zz of the molecule at zero field (e):")
for i in molecule:
    print(f"  {adsorbed[i].symbol}{i:<3d} {born[i, 2, 2]:+.3f}")
print(f"sum over all atoms of Z*_zz: {born[:, 2, 2].sum():+.2e} e (acoustic sum rule: 0 for a neutral cell)")

out = Path("field_bta")
out.mkdir(exist_ok=True)
np.savetxt(out / "adsorption_vs_field.txt", rows, fmt="%.6f",
           header="field_V_per_A  adsorption_energy_eV  normal_dipole_eA  charge_on_BTA_e")
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
left.plot(rows[:, 0], rows[:, 1] - rows[zero, 1], "o-")
left.set_xlabel("field along the normal (V/Å)")
left.set_ylabel("E_ads(E) − E_ads(0) (eV)")
left.set_title(f"BTA on Cu(111), {model}")
right.plot(rows[:, 0], rows[:, 2], "s-", color="C1")
right.set_xlabel("field along the normal (V/Å)")
right.set_ylabel("normal dipole −∂E/∂E (e·Å)")
right.set_title("trained at zero field: an extrapolation")
figure.savefig(out / "adsorption_vs_field.png", dpi=120)
print(f"wrote {out / 'adsorption_vs_field.png'} and {out / 'adsorption_vs_field.txt'}")
