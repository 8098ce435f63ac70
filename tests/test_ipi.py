"""lrcalc as an i-PI force client (lrcalc.ipi, `lrcalc ipi`): what i-PI receives is what the calculator
computes, in i-PI's units, for every bead; clients and server end cleanly."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from ase import units
from ase.build import molecule
from ase.calculators.socketio import SocketServer, actualunixsocketname
from ase.io import read, write

from lrcalc import InputError, LRCalculator
from lrcalc.cli import main
from lrcalc.ipi import extras_string, parse_address, run_client
from lrcalc.structures import bta_on_cu111
from structures import make_slab

HAS_IPI = importlib.util.find_spec("ipi") is not None
I_PI = shutil.which("i-pi", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def socket_name() -> str:
    return f"lrcalc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"


class ClientThread(threading.Thread):
    """run_client in a thread, keeping its result or exception, against an in-process ASE server."""

    def __init__(self, atoms, model, **options):
        super().__init__(daemon=True)
        self.args, self.options = (atoms, model), options
        self.summary = self.error = None

    def run(self):
        try:
            self.summary = run_client(*self.args, **self.options)
        except Exception as error:  # noqa: BLE001 - handed to the test
            self.error = error


def serve(atoms, frames, model, **options):
    """Send ``frames`` (positions, cell) to a client of ``atoms`` and return the replies and the
    client thread, ended."""
    name = socket_name()
    server = SocketServer(unixsocket=name, timeout=120)
    client = ClientThread(atoms, model, unix=name, wait_s=30, **options)
    client.start()
    replies = []
    try:
        for frame in frames:
            replies.append(server.calculate(frame))
    except (OSError, AssertionError):
        pass  # the client stopped on bad input: its error is the test's subject
    finally:
        server.close()
        client.join(timeout=120)
    assert not client.is_alive()
    return replies, client


def test_replies_are_the_calculators_results_in_atomic_units():
    """A molecule with a Qeq model: energy, forces, charges and the dipole (e·bohr) as extras; a
    slab: the virial −V·σ with the slab's periodicity kept from the template."""
    ethanol = molecule("CH3CH2OH")
    ethanol.center(vacuum=5.0)
    frames = []
    for seed in (1, 2):
        frame = ethanol.copy()
        frame.rattle(0.05, seed=seed)
        frames.append(frame)
    replies, client = serve(ethanol.copy(), frames, "dimers_qeq.pt")
    assert client.error is None and client.summary.evaluations == 2
    reference = LRCalculator("dimers_qeq.pt")
    for frame, reply in zip(frames, replies):
        frame.calc = reference
        assert reply["energy"] == pytest.approx(frame.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(reply["forces"], frame.get_forces(), atol=1e-9)
        np.testing.assert_allclose(reply["virial"], 0.0)  # a molecule: no cell, no virial
        extras = json.loads(bytes(reply["morebytes"]).decode())
        np.testing.assert_allclose(extras["charges"], frame.get_charges(), atol=1e-12)
        np.testing.assert_allclose(np.array(extras["dipole"]) * units.Bohr, frame.get_dipole_moment(), atol=1e-12)

    slab = make_slab()
    moved = slab.copy()
    moved.rattle(0.02, seed=7)
    moved.pbc = True  # what the server's cell says: the client keeps the template's (True, True, False)
    (reply,), client = serve(slab.copy(), [moved], "example_untrained.pt")
    assert client.error is None
    moved.pbc = slab.pbc
    moved.calc = LRCalculator("example_untrained.pt")
    assert reply["energy"] == pytest.approx(moved.get_potential_energy(), abs=1e-9)
    np.testing.assert_allclose(reply["virial"], -moved.get_volume() * moved.get_stress(voigt=False), atol=1e-9)
    assert bytes(reply["morebytes"]).strip() == b""  # no charges, no extras


def test_a_structure_of_another_size_is_a_clear_error():
    replies, client = serve(bta_on_cu111(), [molecule("H2O")], "example_untrained.pt")
    assert replies == [] and isinstance(client.error, InputError)
    assert "sent a structure of 3 atoms; this client's structure has 46" in str(client.error)


def test_addresses_extras_and_command_line_mistakes(tmp_path, capsys):
    assert parse_address("node7:31415") == ("node7", 31415)
    assert parse_address(":4000") == ("localhost", 4000)
    for bad in ("node7", "node7:0", "node7:http"):
        with pytest.raises(ValueError, match="address"):
            parse_address(bad)
    assert extras_string({"energy": 1.0}, (False,) * 3) == " "
    assert json.loads(extras_string({"charges": np.array([0.5, -0.5]), "dipole": np.array([1.0, 0, 0])},
                                    (True, True, False))) == {"charges": [0.5, -0.5]}  # no dipole with pbc

    structure = tmp_path / "water.extxyz"
    write(structure, molecule("H2O"))
    with pytest.raises(SystemExit) as exit_:
        main(["ipi", str(structure), "--address", "node7:99999"])
    assert exit_.value.code == 2 and "1–65535" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["ipi", str(structure), "--unix", "/tmp/ipi_x"])
    assert exit_.value.code == 2 and "not a path" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["ipi", str(structure)])
    assert exit_.value.code == 2 and "one of the arguments --address --unix is required" in capsys.readouterr().err
    assert main(["ipi", str(structure), "--model", "example_untrained.pt", "--unix", socket_name(),
                 "--wait", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrcalc ipi: error: no i-PI server accepted a connection at /tmp/ipi_lrcalc_test_"), err


IPI_INPUT = """<simulation verbosity="low" floatformat="%.17e">
  <output prefix="sim">
    <properties stride="1" filename="out">[ step, bead_potentials ]</properties>
    <trajectory filename="pos" stride="1" format="ase">positions</trajectory>
    <trajectory filename="for" stride="1" format="ase">forces</trajectory>
    <trajectory filename="chg" stride="1" extra_type="charges">extras</trajectory>
  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>31415</seed></prng>
  <ffsocket name="lrcalc" mode="unix" pbc="false"><address>{socket}</address></ffsocket>
  <system>
    <initialize nbeads="{beads}">
      <file mode="ase">start.extxyz</file>
      <velocities mode="thermal" units="kelvin">300</velocities>
    </initialize>
    <forces><force forcefield="lrcalc"/></forces>
    <ensemble><temperature units="kelvin">300</temperature></ensemble>
    <motion mode="dynamics">
      <dynamics mode="nvt">
        <timestep units="femtosecond">0.5</timestep>
        <thermostat mode="pile_l"><tau units="femtosecond">100</tau></thermostat>
      </dynamics>
    </motion>
  </system>
</simulation>
"""


@pytest.mark.slow
@pytest.mark.skipif(not HAS_IPI or I_PI is None, reason='i-PI (the ipi package and its i-pi script) is not '
                    'installed: pip install "lrcalc[ipi]"')
def test_pimd_beads_get_the_calculators_energies_and_forces(tmp_path):
    """i-PI (a subprocess) runs 2-bead PIMD of BTA on Cu(111) for 2 steps with two `lrcalc ipi`
    clients of the Qeq model bta_cu.pt (in float64: its float32 network would put ~5e-7 eV of
    rounding noise between any two evaluations of positions written with 8 decimals). Every bead's
    potential, forces and charges, read from i-PI's output in atomic units and converted, equal
    the calculator's on the same positions; all processes end with status 0."""
    beads, steps, socket = 2, 2, socket_name()
    start = bta_on_cu111()
    write(tmp_path / "start.extxyz", start)
    (tmp_path / "input.xml").write_text(IPI_INPUT.format(steps=steps, socket=socket, beads=beads))
    processes = [subprocess.Popen([I_PI, "input.xml"], cwd=tmp_path, stdout=open(tmp_path / "i-pi.log", "w"),
                                  stderr=subprocess.STDOUT)]
    client = [sys.executable, "-m", "lrcalc", "ipi", "start.extxyz", "--model", "bta_cu.pt", "--dtype", "float64",
              "--unix", socket, "--wait", "60", "--threads", "1"]
    processes += [subprocess.Popen(client, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for _ in range(2)]
    try:
        assert processes[0].wait(timeout=240) == 0, (tmp_path / "i-pi.log").read_text()[-3000:]
        for process in processes[1:]:
            stdout, stderr = process.communicate(timeout=60)
            assert process.returncode == 0, stderr[-3000:]
            assert "the server closed the connection" in stdout
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not Path(actualunixsocketname(socket)).exists()

    reference = LRCalculator("bta_cu.pt", dtype="float64")
    start.calc = reference
    start.get_forces()  # tuned on the start, as every client is
    potentials = np.loadtxt(tmp_path / "sim.out")[:, 1:] * units.Ha
    worst = {"energy": 0.0, "forces": 0.0, "charges": 0.0}
    for bead in range(beads):
        positions = read(tmp_path / f"sim.pos_{bead}.extxyz", ":")
        forces = read(tmp_path / f"sim.for_{bead}.extxyz", ":")
        charges = [line for line in (tmp_path / f"sim.chg_{bead}").read_text().splitlines() if "#" not in line]
        assert len(positions) == len(forces) == len(charges) == steps + 1
        for step in range(steps + 1):
            atoms = start.copy()  # species, cell and pbc of the template
            atoms.positions = positions[step].positions
            atoms.calc = reference
            worst["energy"] = max(worst["energy"], abs(atoms.get_potential_energy() - potentials[step, bead]))
            worst["forces"] = max(worst["forces"], np.abs(atoms.get_forces() - forces[step].get_forces()).max())
            received = np.array(charges[step].split(), dtype=float)
            worst["charges"] = max(worst["charges"], np.abs(atoms.get_charges() - received).max())
    print(f"max |ΔE| {worst['energy']:.2e} eV, max |ΔF| {worst['forces']:.2e} eV/Å, "
          f"max |Δq| {worst['charges']:.2e} e")
    # Positions and forces are written with 8 decimals (Å, eV/Å): that rounding bounds the agreement.
    assert worst["energy"] < 1e-6 and worst["forces"] < 1e-5 and worst["charges"] < 1e-6
