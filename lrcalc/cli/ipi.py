"""``lrcalc ipi STRUCTURE``: a force client of an i-PI server (:func:`lrcalc.ipi.run_client`)."""

from __future__ import annotations

import argparse

from .common import DEFAULT_MODEL, add_pbc_argument, device_argument


def address_argument(text: str) -> str:
    """``--address``: ``HOST:PORT`` with a valid port (checked before anything runs)."""
    from ..ipi import parse_address

    try:
        parse_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def socket_argument(text: str) -> str:
    """``--unix``: a socket NAME, not a path."""
    from ..ipi import check_socket_name

    try:
        return check_socket_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "ipi", help="serve energies and forces to an i-PI server (path integrals, replica exchange, ...)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Connect to an i-PI server and evaluate every structure it sends (a bead, a replica) "
                    "with an lrcalc model: energy, forces, virial and, for models with charges, the charges "
                    "(and a molecule's dipole) as JSON extras. The server sends only positions and the cell: "
                    "species, order, periodicity and total charge come from STRUCTURE. Start one client per "
                    "structure the server should evaluate at once, on any machine that reaches it. The "
                    "client exits with status 0 when the server closes the connection.",
        epilog="examples:\n"
               "  i-pi input.xml &                      # <ffsocket mode=\"unix\"><address>bta</address>\n"
               "  lrcalc ipi slab.extxyz --unix bta & lrcalc ipi slab.extxyz --unix bta &\n"
               "  lrcalc ipi slab.extxyz --model bta_cu.pt --address server.example.org:31415   # mode=\"inet\"\n",
    )
    parser.add_argument("structure",
                        help="structure file readable by ASE with the atoms in the order i-PI has them (its "
                             "last frame is used); i-PI's own input file is the natural choice")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"model file or shipped model name (default {DEFAULT_MODEL})")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", type=address_argument, metavar="HOST:PORT",
                       help="TCP socket of the server (<ffsocket mode=\"inet\">: <address> and <port>)")
    where.add_argument("--unix", type=socket_argument, metavar="NAME",
                       help="UNIX socket /tmp/ipi_NAME of a server on this machine (<ffsocket mode=\"unix\">"
                            "<address>NAME</address>)")
    parser.add_argument("--device", type=device_argument, default="cpu",
                        help="torch device: cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default=None,
                        help="float dtype of the network (default: the model's)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads of this client (default: torch's, all cores); give each of "
                             "several clients on one machine its share, e.g. 1 for as many clients as cores")
    parser.add_argument("--charge", type=float, default=None,
                        help="total charge in e (default: the file's info['charge'], else 0)")
    add_pbc_argument(parser)
    parser.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="keep trying to connect this long while the server is not listening yet (default 60)")
    parser.add_argument("--log", default=None, metavar="FILE", help="log every protocol message to FILE")
    parser.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from ..allocator import tune_allocator
    from ..errors import InputError
    from ..ipi import ServerNotFound, run_client
    from .common import load_structure

    tune_allocator()
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    atoms = load_structure(args)
    log = open(args.log, "w") if args.log else None
    try:
        summary = run_client(atoms, args.model, address=args.address, unix=args.unix, device=args.device,
                             dtype=args.dtype, wait_s=args.wait, log=log)
    except ServerNotFound as error:
        print(f"lrcalc ipi: error: {error}", file=sys.stderr)
        return 2
    finally:
        if log is not None:
            log.close()
    print(f"served {summary.evaluations} structures in {summary.seconds:.1f} s; the server closed the connection")
    return 0
