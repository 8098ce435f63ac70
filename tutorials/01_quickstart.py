"""Quick start: energy, forces, stress and charges from the shipped models through ASE.

    python tutorials/01_quickstart.py

``bta_cu.pt`` is the NequIP-LR (charge-equilibration) model of benzotriazole on Cu(111), trained on
DFT data (its card: models/README.md; ``lrcalc info bta_cu.pt`` prints what a model file is).
``bta_cu_sr.pt`` is its short-range baseline of the same size, and ``dimers_lorem.pt`` a LOREM model
(equivariant charges) of small organic molecules and their dimers (with ``dimers_sr.pt``, its
short-range counterpart).
"""

import numpy as np
from ase.build import molecule

from lrcalc import LRCalculator
from lrcalc.structures import bta_on_cu111

np.set_printoptions(precision=4, suppress=True)

# 1. Benzotriazole on a two-layer Cu(111) slab (46 atoms, periodic in-plane, vacuum above).
interface = bta_on_cu111()
interface.calc = LRCalculator("bta_cu.pt")  # a shipped model by name, from any directory
energies = interface.get_potential_energies()
print(f"BTA on Cu(111) ({len(interface)} atoms, pbc={tuple(bool(p) for p in interface.pbc)}), bta_cu.pt:")
print(f"  energy {interface.get_potential_energy():.4f} eV = sum of per-atom energies {energies.sum():.4f} eV")
print(f"  largest force {np.abs(interface.get_forces()).max():.4f} eV/Å; net force "
      f"{interface.get_forces().sum(axis=0)} eV/Å")
print(f"  in-plane stress xx, yy, xy {interface.get_stress()[[0, 1, 5]]} eV/Å³ (cell volume incl. vacuum)")

# 2. The charges of the Qeq model come from a charge equilibration over the whole slab.
charges = interface.get_charges()
symbols = np.array(interface.get_chemical_symbols())
for element in ("Cu", "C", "N", "H"):
    print(f"  mean charge on {element:>2}: {charges[symbols == element].mean():+.4f} e")
print(f"  total charge {charges.sum():+.2e} e (atoms.info['charge'] = {interface.info.get('charge', 0)})")

# 3. The short-range baseline on the same structure: same interface, no charges.
baseline = interface.copy()
baseline.calc = LRCalculator("bta_cu_sr.pt")
print(f"bta_cu_sr.pt: energy {baseline.get_potential_energy():.4f} eV, largest force "
      f"{np.abs(baseline.get_forces()).max():.4f} eV/Å")

# 4. Beyond the cutoff: two ethanol molecules 12 Å apart (the dimers models have a 5 Å cutoff).
#    Turning one of them changes the energy of the LOREM model (its equivariant charges interact
#    through a Coulomb sum) but not that of the short-range model. No cell: no stress. The total
#    charge of a molecular system is atoms.info["charge"] (0 here).
def pair(angle_deg):
    first, second = molecule("CH3CH2OH"), molecule("CH3CH2OH")
    second.rotate(angle_deg, "z", center="COM")
    second.translate([12.0, 0.0, 0.0])
    both = first + second
    both.info["charge"] = 0
    return both


for name in ("dimers_lorem.pt", "dimers_sr.pt"):
    calc = LRCalculator(name)
    energies = []
    for angle in (0, 90, 180):
        atoms = pair(angle)
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
    change = (np.array(energies) - energies[0]) * 1000
    print(f"{name}: turning the far ethanol by 0/90/180° changes the energy by {change.round(3)} meV")
