"""Structures for tutorials and examples: benzotriazole and benzotriazole on Cu(111).

Geometries are built from idealised bond lengths and angles (not taken from any data set); relax
them with a trained model before production use.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import add_adsorbate, fcc111

CU_LATTICE_CONSTANT = 3.61  # Å, fcc Cu


def benzotriazole() -> Atoms:
    """1H-benzotriazole (C6H5N3, BTAH), planar, in the xy plane, centered at the origin.

    A regular benzene hexagon (C–C 1.39 Å) fused along its C3a–C7a edge to a regular triazole
    pentagon (ring bonds 1.36 Å taken equal for simplicity); C–H 1.08 Å, N–H 1.01 Å, radial.
    """
    cc, ring5, ch, nh = 1.39, 1.36, 1.08, 1.01
    # benzene: six corners; the shared edge C3a (index 0) – C7a (index 5) is vertical at x = +cc·√3/2
    angles = np.radians([30, 90, 150, 210, 270, 330])
    hexagon = cc * np.stack([np.cos(angles), np.sin(angles), np.zeros(6)], axis=1)
    # C3a at 30° and C7a at 330°: the shared edge is vertical at x = cc·cos 30°
    c3a, c7a = hexagon[0], hexagon[5]
    c4, c5, c6, c7 = hexagon[1], hexagon[2], hexagon[3], hexagon[4]
    # regular pentagon on the shared edge, pointing to +x
    edge_mid = 0.5 * (c3a + c7a)
    apothem = ring5 / (2 * np.tan(np.pi / 5))
    centre5 = edge_mid + np.array([apothem, 0, 0])
    radius5 = ring5 / (2 * np.sin(np.pi / 5))
    def corner(k):  # pentagon corners starting from C7a, going counter-clockwise
        phi0 = np.arctan2(*(c7a - centre5)[[1, 0]])
        phi = phi0 + 2 * np.pi * k / 5
        return centre5 + radius5 * np.array([np.cos(phi), np.sin(phi), 0.0])
    n1, n2, n3 = corner(1), corner(2), corner(3)
    def outward(atom, centre, length):
        direction = (atom - centre) / np.linalg.norm(atom - centre)
        return atom + length * direction
    positions = [c3a, c4, c5, c6, c7, c7a, n1, n2, n3,
                 outward(c4, np.zeros(3), ch), outward(c5, np.zeros(3), ch), outward(c6, np.zeros(3), ch),
                 outward(c7, np.zeros(3), ch), outward(n1, centre5, nh)]
    atoms = Atoms("C6N3H5", positions=positions)
    atoms.positions -= atoms.get_center_of_mass()
    return atoms


ADSORPTION_HEIGHT = 3.0
"""Å. The flat molecule's height above the top Cu layer in :func:`bta_on_cu111`: inside the geometries
the shipped Cu-BTA models were trained on. Their training frames hold the molecule either flat with
its lowest atom 2.3–2.9 Å above the top layer, or tilted ~36° with its N atoms down at 2.0–2.4 Å;
relaxed with ``bta_cu.pt`` from 3.0 Å it stays flat (lowest atom 2.89 Å), while from 2.6 Å, closer
than any training frame, it turned an H atom to 1.0 Å above the surface, far outside the data."""


def bta_on_cu111(size=(4, 4), layers: int = 2, height: float = ADSORPTION_HEIGHT, vacuum: float = 10.0,
                 upright: bool = False) -> Atoms:
    """Benzotriazole above a Cu(111) slab, ``pbc=(True, True, False)``.

    The default is the 46-atom interface of the NequIP-LR Cu–BTA data: a 4×4×2 slab (in-plane
    a = 10.21 Å) with one molecule, flat (or ``upright``, N atoms down) with its lowest atom
    ``height`` Å above the top layer (default :data:`ADSORPTION_HEIGHT`, a geometry the shipped
    models have seen).
    """
    slab = fcc111("Cu", size=(size[0], size[1], layers), a=CU_LATTICE_CONSTANT, vacuum=vacuum)
    molecule = benzotriazole()
    if upright:  # the triazole ring (+x side) points down to the surface
        molecule.rotate(90, "y", center="COM")
    molecule.translate(-molecule.get_center_of_mass())
    lowest = molecule.positions[:, 2].min()
    centre = slab.cell[:2].sum(axis=0) / 2
    add_adsorbate(slab, molecule, height - lowest, position=(centre[0], centre[1]), mol_index=0)
    # add_adsorbate places mol_index 0 at the site; shift the whole molecule so its COM is centered
    n = len(molecule)
    com = slab[-n:].get_center_of_mass()
    slab.positions[-n:, :2] += centre[:2] - com[:2]
    slab.pbc = (True, True, False)
    slab.info.pop("adsorbate_info", None)  # ASE's bookkeeping dict; extxyz cannot store it
    return slab
