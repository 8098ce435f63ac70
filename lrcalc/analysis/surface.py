"""A molecule on a surface: dipole moment, adsorption height and tilt."""

from __future__ import annotations

import numpy as np

from ._plot import figure, save
from .charges import _charges


def dipole_moment(atoms, indices=None) -> np.ndarray:
    """Σ_i q_i r_i (e·Å) over ``indices`` (default all atoms), relative to their geometric center, so
    the value does not depend on the origin for a neutral group."""
    indices = np.arange(len(atoms)) if indices is None else np.asarray(list(indices))
    charges = _charges(atoms)[indices]
    positions = atoms.positions[indices]
    return charges @ (positions - positions.mean(axis=0))


def _top_layer_z(atoms, surface_indices, tolerance=0.5) -> float:
    z = atoms.positions[list(surface_indices), 2]
    return float(z[z > z.max() - tolerance].mean())


def adsorption_height(atoms, molecule_indices, surface_indices) -> float:
    """Height (Å) of the molecule's center of mass above the mean z of the top surface layer."""
    molecule = atoms[list(molecule_indices)]
    return float(molecule.get_center_of_mass()[2] - _top_layer_z(atoms, surface_indices))


def molecule_tilt(atoms, molecule_indices) -> float:
    """Angle (degrees) between the plane of a (near-)planar molecule and the surface plane (xy):
    0° lying flat, 90° standing upright. The plane's normal is the principal axis of least spread."""
    positions = atoms.positions[list(molecule_indices)]
    centered = positions - positions.mean(axis=0)
    _, _, vt = np.linalg.svd(centered)
    normal = vt[-1]
    return float(np.degrees(np.arccos(min(1.0, abs(normal[2])))))


def plot_adsorption(frames, molecule_indices, surface_indices, timestep_fs, path="adsorption.png") -> str:
    """Adsorption height and tilt of the molecule against time."""
    frames = list(frames)
    t_ps = np.arange(len(frames)) * timestep_fs / 1000
    heights = [adsorption_height(f, molecule_indices, surface_indices) for f in frames]
    tilts = [molecule_tilt(f, molecule_indices) for f in frames]
    fig, ax = figure()
    ax.plot(t_ps, heights, color="C0")
    ax.set_xlabel("t (ps)")
    ax.set_ylabel("height above top layer (Å)", color="C0")
    twin = ax.twinx()
    twin.plot(t_ps, tilts, color="C1")
    twin.set_ylabel("tilt (°)", color="C1")
    return save(fig, path)
