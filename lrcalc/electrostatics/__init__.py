"""Electrostatics engine of lrcalc: Gaussian charges, Ewald/PME/P3M, slabs, Qeq.

Units: positions and widths in Å, charges in e, energies in eV, potentials in eV/e,
forces in eV/Å, stress in eV/Å³ (ASE sign convention); float64 recommended.
"""

from .constants import COULOMB_CONSTANT
from .coulomb import (
    CoulombOperator,
    coulomb_energy,
    electrostatic_potential,
    energy_forces_stress,
)
from .charge_equilibration import QeqConvergenceError, QeqInfo, QeqWarmStart, qeq
from .stress import strain_derivatives, to_voigt
from .tuning import CoulombParameters, tune

__all__ = [
    "COULOMB_CONSTANT",
    "CoulombOperator",
    "CoulombParameters",
    "QeqConvergenceError",
    "QeqInfo",
    "QeqWarmStart",
    "coulomb_energy",
    "electrostatic_potential",
    "energy_forces_stress",
    "qeq",
    "strain_derivatives",
    "to_voigt",
    "tune",
]
