"""lrcalc as a force client of i-PI: path-integral MD, replica exchange and the rest of i-PI's methods
with any lrcalc model.

i-PI (the server) runs the simulation and asks its clients over a socket for the energy, forces and
virial of one structure at a time: a bead of a ring polymer, a replica. Each client is one process
with one model; start as many as the server has structures to evaluate at once, on any machine
that reaches it, and the server hands each a structure when it is free.

What travels over the socket (the i-PI protocol, in atomic units): the cell and the positions, from
the server; the energy, forces, virial and a free-form "extras" string, back. ASE's
:class:`~ase.calculators.socketio.SocketClient` speaks the protocol and converts bohr and Hartree
from and to Å and eV. This module adds what the protocol leaves out:

- **species, order, periodicity, total charge** come from a template structure, the file i-PI was
  started from or any other with the same atoms in the same order. Its ``pbc`` are kept whatever
  cell the server sends: a slab (``pbc=(True, True, False)``) stays a slab.
- **checks**: a structure with another number of atoms than the template is an :class:`InputError`
  naming both counts; the template is evaluated once before connecting, so that an element the
  model does not know ends the client before the server waits on it.
- **one energy surface for all clients**: a Qeq or LOREM model tunes its Coulomb parameters on the
  first structure of a cell and keeps them while the cell stays (:class:`~lrcalc.LRCalculator`).
  Every client tunes them on the template; a cell received equal to the template's up to the
  round-off of the unit conversions (:data:`CELL_ROUND_OFF`) is taken as the template's, so that
  no client retunes on whichever bead it happened to get first (at the default accuracy of
  ``bta_cu.pt`` that would shift its energies by up to ~2e-6 eV and forces by ~1e-5 eV/Å).
- **extras**, a JSON object, for models with charges: ``charges`` (e per atom, in the template's
  order) and, for molecules (``pbc=False``), ``dipole`` (Σ q_i r_i in e·bohr, i-PI's unit of a
  dipole). i-PI writes them with ``<trajectory extra_type="charges">extras</trajectory>``.

The virial sent is −V·σ = −∂E/∂ε (eV; σ is :class:`~lrcalc.LRCalculator`'s stress in the cell V that
the server sent). For a slab V holds the vacuum, and only the in-plane components describe a
pressure. Molecules send a zero virial.

A client ends, returning normally, when the server sends ``EXIT``, closes the connection or resets
it (i-PI ending its run).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.socketio import IPIProtocol, SocketClient, actualunixsocketname
from ase.parallel import DummyMPI

from .errors import InputError

DEFAULT_PORT = 31415
"""i-PI's and ASE's customary port of an ``inet`` socket."""

CELL_ROUND_OFF = 1e-8
"""Å. A cell received that differs from the template's by no more than this (the round-off of the
Å → bohr → Å conversions) is taken as the template's: a Qeq or LOREM model then keeps the Coulomb
parameters it tuned on the template (they are retuned when the cell changes) and every client
evaluates the same energy surface, whichever structure it was handed first."""


class ServerNotFound(ConnectionError):
    """No i-PI server accepted the connection before the wait ran out."""


@dataclass
class ClientSummary:
    """What one client did: ``evaluations`` structures served in ``seconds`` of wall time, from the
    connection to the server's goodbye."""

    evaluations: int
    seconds: float


def parse_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"localhost:31415"``, ``"10.0.0.7:31415"``), ``":PORT"`` or ``"PORT"``
    (host ``localhost``) → ``(host, port)``.

    Raises:
        ValueError: no port, or one outside 1–65535.
    """
    host, _, port = str(address).rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"address {address!r}: give HOST:PORT, e.g. localhost:{DEFAULT_PORT}") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"address {address!r}: the port must lie in 1–65535")
    return host or "localhost", number


def check_socket_name(name: str) -> str:
    """A UNIX socket NAME as i-PI's ``<address>`` gives it (the socket is ``/tmp/ipi_NAME``).

    Raises:
        ValueError: an empty name or a path.
    """
    if not name or "/" in name:
        raise ValueError(f"UNIX socket name {name!r}: give the NAME of i-PI's <address>NAME</address> "
                         "(the socket is /tmp/ipi_NAME), not a path")
    return name


def extras_string(results: dict, pbc) -> str:
    """The extras of one evaluation, as JSON: ``charges`` (e) and, without periodicity, ``dipole``
    (e·bohr); a single space when the model has no charges (i-PI reads that as no extras)."""
    extras = {}
    if "charges" in results:
        extras["charges"] = np.asarray(results["charges"], dtype=float).tolist()
    if "dipole" in results and not np.any(pbc):
        extras["dipole"] = (np.asarray(results["dipole"], dtype=float) / units.Bohr).tolist()
    return json.dumps(extras) if extras else " "


class _Protocol(IPIProtocol):
    """ASE's i-PI protocol, which checks the atom count of every structure received and sends the
    extras of the last evaluation with the forces."""

    def __init__(self, sock, template: Atoms, log=None):
        super().__init__(sock, txt=log)
        self.num_atoms = len(template)
        self.template_cell = template.cell.array.copy()
        self.extras = " "

    def recvposdata(self):
        cell, icell, positions = super().recvposdata()
        if len(positions) != self.num_atoms:
            raise InputError(
                f"the i-PI server sent a structure of {len(positions)} atoms; this client's structure has "
                f"{self.num_atoms}: start the client with the structure i-PI was started from (the same atoms "
                "in the same order)"
            )
        if np.abs(cell - self.template_cell).max() <= CELL_ROUND_OFF:
            cell = self.template_cell.copy()
        return cell, icell, positions

    def sendforce(self, energy, forces, virial, morebytes=None):
        payload = np.frombuffer(self.extras.encode("utf-8"), dtype=np.byte)
        super().sendforce(energy, forces, virial, payload)


class LRCalcSocketClient(SocketClient):
    """ASE's :class:`~ase.calculators.socketio.SocketClient` for one template structure that carries
    its calculator: checks the atom count, sends the extras (module docstring) and counts the
    evaluations. One process, one client: no MPI broadcast among ranks."""

    def __init__(self, atoms: Atoms, host: str = "localhost", port: int | None = None,
                 unixsocket: str | None = None, timeout: float | None = None, log=None):
        super().__init__(host=host, port=port, unixsocket=unixsocket, timeout=timeout, log=log,
                         comm=DummyMPI())
        self.protocol = _Protocol(self.protocol.socket, atoms, log=log)
        self.log = self.protocol.log
        self.evaluations = 0

    def calculate(self, atoms, use_stress):
        energy, forces, virial = super().calculate(atoms, use_stress)
        self.protocol.extras = extras_string(atoms.calc.results, atoms.pbc)
        self.evaluations += 1
        return energy, forces, virial


def connect(atoms: Atoms, address: str | None = None, unix: str | None = None, wait_s: float = 60.0,
            log=None) -> LRCalcSocketClient:
    """A client connected to the server at ``address`` (``HOST:PORT``) or on the UNIX socket
    ``/tmp/ipi_<unix>`` (i-PI's ``<ffsocket mode="unix"><address>NAME</address>``), retried every
    0.2 s for up to ``wait_s`` seconds while nobody listens there yet (clients started together
    with the server).

    Raises:
        ValueError: neither or both of ``address`` and ``unix``; a malformed address.
        ServerNotFound: nobody accepted within ``wait_s``.
    """
    if (address is None) == (unix is None):
        raise ValueError("give either the server's address (HOST:PORT) or the name of its UNIX socket")
    if address is not None:
        host, port = parse_address(address)
        where, options = f"{host}:{port}", {"host": host, "port": port}
    else:
        check_socket_name(unix)
        where, options = actualunixsocketname(unix), {"unixsocket": unix}
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return LRCalcSocketClient(atoms, log=log, **options)
        except (ConnectionRefusedError, FileNotFoundError) as error:
            if time.monotonic() >= deadline:
                raise ServerNotFound(f"no i-PI server accepted a connection at {where} within {wait_s:g} s "
                                     f"({error.strerror or error})") from None
            time.sleep(0.2)


def run_client(atoms: Atoms, model=None, *, address: str | None = None, unix: str | None = None,
               device: str = "cpu", dtype: str | None = None, wait_s: float = 60.0,
               log=None) -> ClientSummary:
    """Serve energies, forces, virials and extras of ``model`` to an i-PI server until it closes.

    Args:
        atoms: the template structure: species, order, ``pbc`` and total charge
            (``atoms.info["charge"]``) of every structure the server sends. It is updated in place
            (positions and cell of the last structure served).
        model: anything :class:`~lrcalc.LRCalculator` takes (a model, a file, a shipped model's
            name), or ``None`` to use ``atoms.calc`` as it is (any ASE calculator).
        address: the server's ``HOST:PORT`` (i-PI's ``<ffsocket mode="inet">``); or
        unix: the NAME of its UNIX socket ``/tmp/ipi_NAME`` (``<ffsocket mode="unix">``).
        device, dtype: of the :class:`~lrcalc.LRCalculator` built from ``model``.
        wait_s: how long to retry connecting while the server is not listening yet (s).
        log: a text file to log the protocol's messages to, or ``None``.

    Returns:
        a :class:`ClientSummary`.

    Raises:
        InputError: the template cannot be evaluated, or the server sent another number of atoms.
        ServerNotFound: no server at that address within ``wait_s``.
    """
    if model is not None:
        from .calculator import LRCalculator

        atoms.calc = LRCalculator(model, device=device, dtype=dtype)
    elif atoms.calc is None:
        raise ValueError("give a model, or set atoms.calc first")
    atoms.get_forces()  # unknown elements, overlapping atoms: fail before the server waits on us
    started = time.perf_counter()
    client = connect(atoms, address=address, unix=unix, wait_s=wait_s, log=log)
    try:
        client.run(atoms, use_stress=bool(atoms.pbc.any()))
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server went away between two messages: the end of its run, as a closed socket is
    finally:
        client.close()
    return ClientSummary(evaluations=client.evaluations, seconds=time.perf_counter() - started)


__all__ = ["ClientSummary", "LRCalcSocketClient", "ServerNotFound", "check_socket_name", "connect",
           "extras_string", "parse_address", "run_client"]
