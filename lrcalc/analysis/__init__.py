"""Analysis of trajectories: structure, transport, charges, IR spectra and energy conservation.

Every function takes ASE ``Atoms`` frames (e.g. ``ase.io.read("md.traj", ":")``) and returns numpy
arrays; every ``plot_*`` function writes a PNG and returns its path.
"""

from .charges import charge_statistics, charge_time_series, plot_charges
from .dynamics import diffusion_coefficient, mean_squared_displacement, plot_msd
from .energy import energy_drift, plot_energy, plot_md_log, read_md_log
from .infrared import dipole_time_series, ir_spectrum, plot_ir_spectrum
from .rdf import partial_rdf, plot_rdf
from .surface import adsorption_height, dipole_moment, molecule_tilt, plot_adsorption

__all__ = [
    "partial_rdf", "plot_rdf",
    "mean_squared_displacement", "diffusion_coefficient", "plot_msd",
    "charge_statistics", "charge_time_series", "plot_charges",
    "dipole_moment", "adsorption_height", "molecule_tilt", "plot_adsorption",
    "energy_drift", "plot_energy", "read_md_log", "plot_md_log",
    "dipole_time_series", "ir_spectrum", "plot_ir_spectrum",
]
