"""Quick start: energy, forces and stress from an lrcalc model through ASE.

    python tutorials/01_quickstart.py

Until the trained models land in models/ this uses ``example_untrained.pt``, a small model with
random weights: the numbers show the interface, not physics. Swap in ``"bta_cu.pt"`` when it is
shipped (``lrcalc info MODEL`` tells what a model file is).
"""

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc111, molecule

from lrcalc import LRCalculator

calc = LRCalculator("example_untrained.pt")  # a shipped model by name, from any directory
np.set_printoptions(precision=5, suppress=True)

# 1. Bulk copper, a 3-D periodic cell: energy, forces, stress.
crystal = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
crystal.rattle(0.05, seed=0)
crystal.calc = calc
print(f"bulk Cu ({len(crystal)} atoms): energy {crystal.get_potential_energy():.6f} eV")
print(f"  largest force {np.abs(crystal.get_forces()).max():.5f} eV/Å")
print(f"  stress (xx yy zz yz xz xy) {crystal.get_stress()} eV/Å³")

# 2. A benzotriazole-like molecule (here: pyridine from ASE's g2 set) above Cu(111): a slab.
slab = fcc111("Cu", size=(4, 4, 2), vacuum=10.0)
adsorbate = molecule("C5H5N")
adsorbate.rotate(90, "x")
top = slab.positions[:, 2].max()
adsorbate.translate(slab.cell[:2].sum(axis=0) / 2 + [0, 0, top + 2.5] - adsorbate.get_center_of_mass())
interface = slab + adsorbate
interface.pbc = (True, True, False)
interface.calc = calc
energies = interface.get_potential_energies()
print(f"Cu(111) + C5H5N ({len(interface)} atoms, pbc={tuple(bool(p) for p in interface.pbc)}):")
print(f"  energy {interface.get_potential_energy():.6f} eV = sum of per-atom energies {energies.sum():.6f} eV")
print(f"  net force {interface.get_forces().sum(axis=0)} eV/Å (zero by construction)")
print(f"  in-plane stress xx, yy, xy {interface.get_stress()[[0, 1, 5]]} eV/Å³ (cell volume incl. vacuum)")

# 3. An isolated molecule: no cell, so no stress.
water = Atoms(molecule("H2O"))
water.calc = calc
print(f"H2O: energy {water.get_potential_energy():.6f} eV, forces\n{water.get_forces()}")
