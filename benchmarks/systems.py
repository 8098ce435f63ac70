"""The systems the benchmark scripts measure on, in one place.

- :func:`cu_bta_interface`: the 46-atom Cu(111) + benzotriazole slab (frame 0 of
  ../shared/data/cu_bta when present, else a built one of the same composition), ``pbc=(T, T, F)``.
- :func:`bulk_cu`: fcc Cu (a = 3.61 Å), the cubic cell repeated ``repeat`` times (4·repeat³ atoms).
- :func:`jittered_lattice_charges`: ~N point sites on a jittered simple-cubic lattice at a given
  density, half of them of a second species (the Qeq and Ewald/PME scaling benchmark).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk, fcc111

REPO = Path(__file__).resolve().parents[1]
CU_BTA = REPO.parent / "shared" / "data" / "cu_bta" / "cu_bta.extxyz"
CU_BTA_SPECIES = ["H", "C", "N", "Cu"]


def cu_bta_interface() -> tuple[Atoms, str]:
    """The 46-atom interface and a description of where it came from."""
    if CU_BTA.is_file():
        from ase.io import read

        atoms = read(CU_BTA, index=0)
        source = f"frame 0 of {CU_BTA.name}"
    else:  # same composition: 4×4×2 Cu(111) and a C6H5N3 ring cluster 2.5 Å above it
        atoms = fcc111("Cu", size=(4, 4, 2), vacuum=8.0)
        top = atoms.positions[:, 2].max()
        ring = [[np.cos(t) * r, np.sin(t) * r, 0.0] for r, n in ((1.4, 9), (2.4, 5))
                for t in np.linspace(0, 2 * np.pi, n, endpoint=False)]
        centre = atoms.cell[:2].sum(axis=0) / 2 + [0, 0, top + 2.5]
        atoms += Atoms("C6N3H5", positions=np.array(ring) + centre)
        source = "a built Cu32 C6H5N3 slab"
    atoms.pbc = (True, True, False)
    atoms.calc = None
    return atoms, source


def bulk_cu(repeat: int) -> Atoms:
    """fcc Cu, the 4-atom cubic cell repeated ``repeat``×``repeat``×``repeat``."""
    return bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)


def jittered_lattice_charges(n_target: int, seed: int = 0, density: float = 0.1,
                             dtype: torch.dtype = torch.float64):
    """Positions [n, 3] (Å), cubic cell [3, 3] (Å) and a species mask [n] (half True) for
    n = round(n_target^(1/3))³ sites at ``density`` atoms/Å³, jittered by 0.3 Å."""
    gen = torch.Generator().manual_seed(seed)
    m = round(n_target ** (1 / 3))
    spacing = (1.0 / density) ** (1 / 3)
    grid = torch.stack(torch.meshgrid(*[torch.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3)
    n = m**3
    pos = grid.to(dtype) * spacing + 0.3 * torch.randn(n, 3, generator=gen, dtype=dtype)
    cell = torch.eye(3, dtype=dtype) * m * spacing
    species_a = torch.zeros(n, dtype=torch.bool)
    species_a[torch.randperm(n, generator=gen)[: n // 2]] = True
    return pos, cell, species_a
