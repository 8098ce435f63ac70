"""Path-integral MD of benzotriazole on Cu(111): i-PI integrates, two lrcalc clients give the forces.

    python tutorials/05_pimd_ipi.py [--model bta_cu.pt] [--steps 400] [--beads 4] [--quick]

Needs i-PI: ``pip install "lrcalc[ipi]"``. Quantum nuclei through path integrals: every atom is a
ring polymer of ``--beads`` replicas joined by springs, and the model evaluates each replica, here
two at a time, one per client. Four beads at 300 K are enough to see the light H atoms' zero-point
motion make their kinetic energy exceed the classical 3/2 kT, not to converge it (that takes ~32).

Writes pimd_bta/: bta_cu111.extxyz (the start, also the clients' template), input.xml (the i-PI
input: 300 K, PILE-L thermostat, 0.5 fs), and i-PI's output: pimd.out (temperature, potential and
centroid-virial kinetic energies), pimd.pos_<bead>.extxyz (bead trajectories), pimd.charges_<bead>
(the model's charges, sent by the clients as extras). All three processes run on this machine and
meet on a UNIX socket; the README's "i-PI with clients on several machines" uses TCP instead.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from ase import units
from ase.io import write

from lrcalc import load_model
from lrcalc.model_file import shipped_models
from lrcalc.structures import bta_on_cu111

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default=None, help="default: bta_cu.pt when shipped, else example_untrained.pt")
parser.add_argument("--steps", type=int, default=400)
parser.add_argument("--beads", type=int, default=4)
parser.add_argument("--quick", action="store_true", help="2 steps only (CI)")
args = parser.parse_args()
shipped = [p.name for p in shipped_models()]
model = args.model or ("bta_cu.pt" if "bta_cu.pt" in shipped else "example_untrained.pt")
steps = 2 if args.quick else args.steps
i_pi = shutil.which("i-pi", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
if i_pi is None:
    sys.exit('i-PI is not installed: pip install "lrcalc[ipi]"')

out = Path("pimd_bta")
out.mkdir(exist_ok=True)
atoms = bta_on_cu111()
write(out / "bta_cu111.extxyz", atoms)
symbols = atoms.get_chemical_symbols()
num_h, num_cu = symbols.count("H"), symbols.count("Cu")
socket = f"lrcalc_pimd_{os.getpid()}"  # i-PI listens on /tmp/ipi_<socket>

# i-PI reads the structure with ASE (mode="ase": Å), and its ffsocket sends positions unwrapped
# (pbc="false"): the model wraps them itself and keeps the slab's vacuum axis as it is.
charges = ('    <trajectory filename="charges" stride="20" extra_type="charges">extras</trajectory>\n'
           if "charges" in load_model(model).outputs else "")  # extras a model without charges has not
(out / "input.xml").write_text(f"""<simulation verbosity="low" floatformat="%.12e">
  <output prefix="pimd">
    <properties stride="2" filename="out">
      [ step, time{{picosecond}}, conserved{{electronvolt}}, temperature{{kelvin}}, potential{{electronvolt}},
        kinetic_cv{{electronvolt}}, kinetic_cv{{electronvolt}}(H), kinetic_cv{{electronvolt}}(Cu) ]
    </properties>
    <trajectory filename="pos" stride="20" format="ase">positions</trajectory>
{charges}  </output>
  <total_steps>{steps}</total_steps>
  <prng><seed>2718</seed></prng>
  <ffsocket name="lrcalc" mode="unix" pbc="false">
    <address>{socket}</address>
  </ffsocket>
  <system>
    <initialize nbeads="{args.beads}">
      <file mode="ase">bta_cu111.extxyz</file>
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
""")

# The server first, then two clients (each retries until the socket exists); the clients exit
# when i-PI closes the connection at the end of the run. Two clients share this machine: one torch
# thread each (46 atoms gain little from more, and oversubscribed threads slow everything down).
server = subprocess.Popen([i_pi, "input.xml"], cwd=out, stdout=open(out / "i-pi.log", "w"),
                          stderr=subprocess.STDOUT)
client = [sys.executable, "-m", "lrcalc", "ipi", "bta_cu111.extxyz", "--model", model, "--unix", socket,
          "--threads", "1"]
clients = [subprocess.Popen(client, cwd=out, stdout=open(out / f"client{k}.log", "w"), stderr=subprocess.STDOUT)
           for k in range(2)]
started = time.perf_counter()
try:
    server_status = server.wait(timeout=3600)
    client_status = [c.wait(timeout=60) for c in clients]
finally:
    for process in [server, *clients]:
        if process.poll() is None:
            process.kill()
            process.wait()
if server_status != 0 or any(client_status):
    sys.exit(f"i-PI exited with {server_status}, the clients with {client_status}: see {out}/*.log")
print(f"{steps} steps of {args.beads}-bead PIMD with {model} in {time.perf_counter() - started:.0f} s")
for k in range(2):
    print(f"  client {k}: {(out / f'client{k}.log').read_text().splitlines()[-1]}")

table = np.atleast_2d(np.loadtxt(out / "pimd.out"))
classical = 1.5 * units.kB * 300
print(f"temperature {table[:, 3].mean():.0f} K, potential energy {table[-1, 4]:.3f} eV (last step)")
print(f"kinetic energy per H atom {table[:, 6].mean() / num_h * 1000:.1f} meV (centroid virial), "
      f"per Cu atom {table[:, 7].mean() / num_cu * 1000:.1f} meV; classical 3/2 kT = {classical * 1000:.1f} meV")
print(f"wrote {out}/input.xml, pimd.out, pimd.pos_*.extxyz, pimd.charges_*")
