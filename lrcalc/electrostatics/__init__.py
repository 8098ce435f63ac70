"""Electrostatics engine of lrcalc: Gaussian charges, Ewald/PME/P3M, slabs, Qeq, and electrodes
at fixed potentials.

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
from .electrode import ElectrodeInfo, constant_potential_charges, sigma_from_lammps_eta
from .stress import strain_derivatives, to_voigt
from .tuning import CoulombParameters, tune

__all__ = [
    "COULOMB_CONSTANT",
    "CoulombOperator",
    "CoulombParameters",
    "ElectrodeInfo",
    "QeqConvergenceError",
    "QeqInfo",
    "QeqWarmStart",
    "constant_potential_charges",
    "coulomb_energy",
    "electrostatic_potential",
    "energy_forces_stress",
    "qeq",
    "sigma_from_lammps_eta",
    "strain_derivatives",
    "to_voigt",
    "tune",
]
