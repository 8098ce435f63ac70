"""Geometry (and cell) relaxation over ASE's optimizers.

    from lrcalc import relax
    result = relax(atoms, fmax=0.02, optimizer="FIRE", cell="inplane", fix=md.bottom_layers(atoms, 1))

``cell``: ``False`` relaxes positions only; ``True`` the full cell as well (3-D periodic cells);
``"inplane"`` only the in-plane cell vectors of a slab (xx, yy, xy strain through ASE's
``FrechetCellFilter`` with a mask), the vacuum axis stays fixed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms

OPTIMIZERS = ("FIRE", "BFGS", "LBFGS")


class RelaxationNotConverged(UserWarning):
    """Warned when the allowed steps end before the largest force falls below ``fmax``."""


@dataclass
class RelaxResult:
    converged: bool
    steps: int
    fmax_eV_per_A: float
    energy_eV: float
    trajectory: str | None


def _largest_force(target) -> float:
    forces = target.get_forces()
    return float(np.sqrt((forces**2).sum(axis=1).max())) if len(forces) else 0.0


def relax(
    atoms: Atoms,
    fmax: float = 0.05,
    optimizer: str = "FIRE",
    cell: bool | str = False,
    fix=None,
    steps: int = 500,
    trajectory: str | os.PathLike | None = "relax.traj",
    logfile: str | None = None,
    progress: bool = True,
) -> RelaxResult:
    """Relax ``atoms`` (in place) until the largest force (and cell force) is below ``fmax`` eV/Å.

    Args:
        optimizer: ``"FIRE"``, ``"BFGS"`` or ``"LBFGS"`` (ASE's).
        cell: ``False``, ``True`` or ``"inplane"`` (see the module docstring).
        fix: indices of atoms to hold fixed (added to existing constraints).
        steps: the most optimizer steps allowed. When they run out, a
            :class:`RelaxationNotConverged` warning says so and ``result.converged`` is False.
        trajectory: ASE trajectory of every step (``None`` for none); ``logfile``: the optimizer's log
            (``"-"`` for the terminal).
        progress: a progress bar over the allowed steps showing the current fmax.
    """
    from ase import optimize
    from ase.filters import FrechetCellFilter

    if atoms.calc is None:
        raise ValueError("atoms has no calculator: set atoms.calc = LRCalculator(...) first")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not fmax > 0:
        raise ValueError("fmax must be positive (eV/Å)")
    if fix is not None and len(fix):
        atoms.set_constraint(list(atoms.constraints) + [FixAtoms(indices=list(fix))])
    if cell is False:
        target = atoms
    elif cell is True:
        if not atoms.pbc.all():
            raise ValueError('cell=True relaxes a 3-D periodic cell; for a slab use cell="inplane"')
        target = FrechetCellFilter(atoms)
    elif cell == "inplane":
        if tuple(atoms.pbc) != (True, True, False):
            raise ValueError('cell="inplane" is for slabs with pbc=(True, True, False)')
        target = FrechetCellFilter(atoms, mask=[True, True, False, False, False, True])
    else:
        raise ValueError(f'cell must be False, True or "inplane", got {cell!r}')

    dynamics = getattr(optimize, optimizer)(
        target, logfile=logfile, trajectory=None if trajectory is None else str(trajectory)
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"relax {optimizer}", unit="step", dynamic_ncols=True)

        def tick():
            if dynamics.nsteps > 0:
                bar.update(1)
            bar.set_postfix(fmax=f"{_largest_force(target):.4f} eV/Å")

        dynamics.attach(tick, interval=1)
    try:
        converged = bool(dynamics.run(fmax=fmax, steps=steps))
    finally:
        if bar is not None:
            bar.close()
    final_fmax = _largest_force(target)
    if not converged:
        warnings.warn(
            f"relaxation did not converge: after {dynamics.nsteps} {optimizer} steps the largest force is "
            f"{final_fmax:.4f} eV/Å > fmax={fmax} eV/Å; continue from the returned structure with more "
            f"steps, or try another optimizer",
            RelaxationNotConverged,
            stacklevel=2,
        )
    return RelaxResult(converged, int(dynamics.nsteps), final_fmax, float(atoms.get_potential_energy()),
                       None if trajectory is None else str(trajectory))
