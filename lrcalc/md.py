"""Molecular dynamics over ASE's integrators, with trajectories, logs, progress and exact restarts.

    from lrcalc import LRCalculator, md
    atoms.calc = LRCalculator("bta_cu.pt")
    result = md.run(atoms, "langevin", temperature_K=300, timestep_fs=0.5, steps=2000,
                    fix=md.bottom_layers(atoms, 1), trajectory="md.traj")

=====================  ===================================================  =====================
ensemble               ASE integrator                                       its time constant
=====================  ===================================================  =====================
``nve``                ``VelocityVerlet``                                   —
``langevin``           ``Langevin`` (NVT)                                   ``friction_per_fs``
``nvt-bussi``          ``Bussi`` stochastic velocity rescaling (NVT)        ``thermostat_fs``
``nvt-nose-hoover``    ``NoseHooverChainNVT`` (NVT)                         ``thermostat_fs``
``npt-mtk``            ``MTKNPT`` Martyna–Tobias–Klein, full cell (NPT)     thermo-/``barostat_fs``
``npt-berendsen``      ``Inhomogeneous_NPTBerendsen`` (NPT; for slabs only  thermo-/``barostat_fs``
                       the in-plane cell axes are scaled)
=====================  ===================================================  =====================

Each frame of the trajectory (every ``interval`` steps, and always the last step) holds positions,
momenta, cell and the calculator's results: energy, forces, stress and, for models with charges, the
per-atom charges. A CSV log has step, time, potential/kinetic/total energy, temperature (and
pressure for periodic cells).

Restart: ``run(..., restart=True)`` continues from the last frame of ``trajectory`` with its
velocities and appends to it. The integrator's random state is saved beside the trajectory
(``<trajectory>.state.json``), so a run of N+M steps and a run of N steps followed by a restart of M
steps give the same trajectory for ``nve``, ``langevin`` and ``nvt-bussi``. The Nosé–Hoover and MTK
integrators restart with their thermostat/barostat variables reset (a warning says so).
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import PropertyNotImplementedError
from ase.constraints import FixAtoms
from ase.io import Trajectory

ENSEMBLES = ("nve", "langevin", "nvt-bussi", "nvt-nose-hoover", "npt-mtk", "npt-berendsen")
EXACT_RESTART = ("nve", "langevin", "nvt-bussi")


@dataclass
class MDResult:
    """What a run did: files written, steps taken, and per-logged-step series."""

    trajectory: str
    logfile: str | None
    steps: int
    first_step: int
    time_fs: np.ndarray = field(repr=False)
    temperature_K: np.ndarray = field(repr=False)
    potential_energy: np.ndarray = field(repr=False)
    total_energy: np.ndarray = field(repr=False)

    @property
    def mean_temperature_K(self) -> float:
        return float(np.mean(self.temperature_K))


def bottom_layers(atoms: Atoms, n_layers: int, tolerance: float = 0.5, symbols=None) -> list[int]:
    """Indices of the atoms in the lowest ``n_layers`` layers along z (layers are groups of z within
    ``tolerance`` Å), optionally only of the given element ``symbols`` (e.g. ``["Cu"]``)."""
    if n_layers < 1:
        return []
    z = atoms.positions[:, 2]
    candidates = np.arange(len(atoms))
    if symbols is not None:
        candidates = np.array([i for i in candidates if atoms[i].symbol in set(symbols)], dtype=int)
    if candidates.size == 0:
        return []
    order = candidates[np.argsort(z[candidates])]
    layers, current = [], [order[0]]
    for i in order[1:]:
        if z[i] - z[current[-1]] > tolerance:
            layers.append(current)
            current = []
        current.append(i)
    layers.append(current)
    return sorted(int(i) for layer in layers[:n_layers] for i in layer)


def _integrator(atoms, ensemble, timestep_fs, temperature_K, friction_per_fs, thermostat_fs,
                pressure_bar, barostat_fs, compressibility_per_bar, rng):
    from ase.md.bussi import Bussi
    from ase.md.langevin import Langevin
    from ase.md.nose_hoover_chain import MTKNPT, NoseHooverChainNVT
    from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen
    from ase.md.verlet import VelocityVerlet

    dt = timestep_fs * units.fs
    if ensemble == "nve":
        return VelocityVerlet(atoms, dt)
    if ensemble == "langevin":
        return Langevin(atoms, dt, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                        fixcm=False, rng=rng)
    if ensemble == "nvt-bussi":
        return Bussi(atoms, dt, temperature_K=temperature_K, taut=thermostat_fs * units.fs, rng=rng)
    if ensemble == "nvt-nose-hoover":
        return NoseHooverChainNVT(atoms, dt, temperature_K=temperature_K, tdamp=thermostat_fs * units.fs)
    if not atoms.pbc.any():
        raise ValueError(f"ensemble {ensemble!r} needs a periodic cell; this structure has none")
    pressure_au = pressure_bar * units.bar
    if ensemble == "npt-mtk":
        if not atoms.pbc.all():
            raise ValueError("npt-mtk scales the full cell and needs pbc=True; use npt-berendsen for slabs")
        return MTKNPT(atoms, dt, temperature_K=temperature_K, pressure_au=pressure_au,
                      tdamp=thermostat_fs * units.fs, pdamp=barostat_fs * units.fs)
    if ensemble == "npt-berendsen":
        mask = tuple(int(p) for p in atoms.pbc)
        return Inhomogeneous_NPTBerendsen(
            atoms, dt, temperature_K=temperature_K, pressure_au=pressure_au, taut=thermostat_fs * units.fs,
            taup=barostat_fs * units.fs, compressibility_au=compressibility_per_bar / units.bar, mask=mask,
        )
    raise ValueError(f"unknown ensemble {ensemble!r}; choose one of {', '.join(ENSEMBLES)}")


def _state_path(trajectory: str | os.PathLike) -> Path:
    return Path(str(trajectory) + ".state.json")


def _last_frame(trajectory) -> tuple[Atoms, dict]:
    path = Path(trajectory)
    if not path.is_file():
        raise FileNotFoundError(f"cannot restart: trajectory {path} does not exist")
    with Trajectory(path) as frames:
        if len(frames) == 0:
            raise ValueError(f"cannot restart: trajectory {path} has no frames")
        last = frames[-1]
    state_file = _state_path(path)
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    return last, state


def run(
    atoms: Atoms,
    ensemble: str = "langevin",
    temperature_K: float = 300.0,
    timestep_fs: float = 0.5,
    steps: int = 1000,
    *,
    trajectory: str | os.PathLike = "md.traj",
    logfile: str | os.PathLike | None = "md.csv",
    interval: int = 10,
    friction_per_fs: float = 0.01,
    thermostat_fs: float = 100.0,
    pressure_bar: float = 1.01325,
    barostat_fs: float = 1000.0,
    compressibility_per_bar: float = 4.57e-5,
    fix=None,
    restart: bool = False,
    initial_temperature_K: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> MDResult:
    """Run ``steps`` steps of MD on ``atoms`` (which carries its calculator) and return an
    :class:`MDResult`. ``atoms`` is updated in place to the final state.

    Args:
        ensemble: one of :data:`ENSEMBLES` (see the module docstring).
        temperature_K: target temperature (K); also the initial Maxwell–Boltzmann temperature for a
            new run unless ``initial_temperature_K`` is given (0 keeps the current momenta).
        timestep_fs: time step (fs).
        steps: number of steps in this call.
        trajectory: ASE trajectory file; ``logfile``: CSV log (``None`` for none).
        interval: write a frame and a log line every ``interval`` steps (and always the last step).
        friction_per_fs: Langevin friction (1/fs). ``thermostat_fs``/``barostat_fs``: relaxation
            times (fs). ``pressure_bar``: target pressure (bar); ``compressibility_per_bar`` for
            Berendsen NPT (default: water-like 4.57e-5 /bar).
        fix: indices of atoms held fixed (e.g. :func:`bottom_layers`); added to existing constraints.
        restart: continue from the last frame of ``trajectory`` (positions, momenta, cell) and append.
        seed: seed of the integrator's and the initial velocities' random numbers.
        progress: show a progress bar (tqdm) with temperature and energy.
    """
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    if ensemble not in ENSEMBLES:
        raise ValueError(f"unknown ensemble {ensemble!r}; choose one of {', '.join(ENSEMBLES)}")
    if atoms.calc is None:
        raise ValueError("atoms has no calculator: set atoms.calc = LRCalculator(...) first")
    if steps < 0 or interval < 1 or timestep_fs <= 0:
        raise ValueError("steps must be ≥ 0, interval ≥ 1 and timestep_fs > 0")
    if temperature_K < 0:
        raise ValueError("temperature_K must be ≥ 0")

    rng = np.random.default_rng(seed)
    first_step = 0
    if restart:
        last, state = _last_frame(trajectory)
        if len(last) != len(atoms):
            raise ValueError(f"cannot restart: {trajectory} holds {len(last)} atoms, the structure {len(atoms)}")
        atoms.positions = last.positions
        atoms.cell = last.cell
        atoms.pbc = last.pbc
        atoms.set_momenta(last.get_momenta(), apply_constraint=False)
        first_step = int(state.get("step", 0))
        if "rng" in state:
            rng.bit_generator.state = state["rng"]
        if ensemble not in EXACT_RESTART:
            warnings.warn(f"restarting {ensemble}: its thermostat/barostat variables start from zero again",
                          stacklevel=2)
    if fix is not None and len(fix):
        atoms.set_constraint(list(atoms.constraints) + [FixAtoms(indices=list(fix))])
    if not restart:
        start_temperature = temperature_K if initial_temperature_K is None else initial_temperature_K
        if start_temperature > 0:
            thermalize_momenta(atoms, temperature_K=start_temperature, rng=rng)
            if fix is None or not len(fix):
                Stationary(atoms)
            else:  # fixed atoms do not move
                momenta = atoms.get_momenta()
                momenta[list(fix)] = 0.0
                atoms.set_momenta(momenta, apply_constraint=False)

    if atoms.pbc.any() and abs(atoms.cell.volume) > 1e-12:
        try:  # the frames hold stress (module docstring): asked once, LRCalculator computes it at every step
            atoms.get_stress()
        except PropertyNotImplementedError:
            pass
    dynamics = _integrator(atoms, ensemble, timestep_fs, temperature_K, friction_per_fs, thermostat_fs,
                           pressure_bar, barostat_fs, compressibility_per_bar, rng)
    writer = Trajectory(trajectory, "a" if restart else "w", atoms)
    log_rows = []
    log_handle = None
    if logfile is not None:
        log_new = not (restart and Path(logfile).is_file())
        log_handle = open(logfile, "a" if not log_new else "w", newline="")
        log = csv.writer(log_handle)
        if log_new:
            log.writerow(["step", "time_fs", "epot_eV", "ekin_eV", "etot_eV", "temperature_K", "pressure_bar"])

    def record():
        step = first_step + dynamics.nsteps
        epot = atoms.get_potential_energy()
        ekin = atoms.get_kinetic_energy()
        temperature = atoms.get_temperature()
        pressure = ""
        if atoms.pbc.all():
            pressure = -np.trace(atoms.get_stress(voigt=False, include_ideal_gas=True)) / 3 / units.bar
        log_rows.append((step * timestep_fs, temperature, epot, epot + ekin))
        if log_handle is not None:
            log.writerow([step, f"{step * timestep_fs:.4f}", f"{epot:.8f}", f"{ekin:.8f}", f"{epot + ekin:.8f}",
                          f"{temperature:.3f}", pressure if pressure == "" else f"{pressure:.3f}"])
            log_handle.flush()

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"MD {ensemble} {temperature_K:g} K", unit="step", dynamic_ncols=True)

    def tick():
        if bar is not None and dynamics.nsteps > 0:
            bar.update(1)
            if dynamics.nsteps % interval == 0:
                bar.set_postfix(T=f"{atoms.get_temperature():.0f} K", Epot=f"{atoms.get_potential_energy():.3f} eV")

    def write_frame():
        record()  # evaluates the model first, so that the frame carries all its results
        writer.write(atoms)

    if not restart:
        write_frame()  # step 0
    dynamics.attach(tick, interval=1)
    dynamics.attach(lambda: write_frame() if dynamics.nsteps > 0 else None, interval=interval)
    try:
        dynamics.run(steps)
        if steps % interval != 0:
            write_frame()
    finally:
        writer.close()
        if log_handle is not None:
            log_handle.close()
        if bar is not None:
            bar.close()
    state = {"step": first_step + steps, "ensemble": ensemble, "timestep_fs": timestep_fs,
             "rng": rng.bit_generator.state}
    _state_path(trajectory).write_text(json.dumps(state))
    series = np.array(log_rows) if log_rows else np.zeros((0, 4))
    return MDResult(
        trajectory=str(trajectory), logfile=None if logfile is None else str(logfile), steps=steps,
        first_step=first_step, time_fs=series[:, 0], temperature_K=series[:, 1],
        potential_energy=series[:, 2], total_energy=series[:, 3],
    )
