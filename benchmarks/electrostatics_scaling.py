#!/usr/bin/env python
"""Scaling of lrcalc's electrostatics: energy+forces and Qeq+forces for 10³-10⁵ atoms.

System: a random neutral binary ionic liquid at 0.1 atoms/Å³ (a jittered simple-cubic
lattice, 0.3 Å random displacements, species A/B assigned at random, half each) with
per-species Qeq parameters χ = 3 / 8 eV/e, J = 5 / 9 eV/e², Gaussian widths σ = 1.0 /
1.2 Å. Everything in float64.

Columns (wall-clock seconds, best of ``--repeats`` runs on this shared, noisy machine, each
including parameter tuning, pair search and mesh set-up; Coulomb accuracy ``--accuracy``,
default 1e-4, CG tolerance 1e-6 relative residual):

- ``E+F``: P3M energy and forces of fixed charges (one differentiable evaluation).
- ``Qeq+F``: P3M Qeq solve by preconditioned CG from a cold start, then the energy's
  forces through the implicit-gradient graph; also its process CPU time (both threads
  together), which is less disturbed than wall time when other jobs share the cores.
- ``Qeq+F warm``: the same after moving all atoms by ~0.02 Å, warm-started from the
  previous charges (one MD step).
- ``dense Qeq+F``: the O(N²)-memory approach (dense Ewald Coulomb matrix, direct solve),
  run only up to ``--dense-max`` atoms. Its charges differ from the CG/P3M ones by the
  accuracy of the two Coulomb operators (Ewald vs P3M at ``--accuracy``), printed.

The fitted exponent is log(t₂/t₁)/log(N₂/N₁) between the two largest sizes, from the same
run. The glibc allocator setting below changes timings of large autograd runs by 2.5-3.7x
on this machine (see shared/perf_notes.md), so the script fixes it by re-executing itself
with ``MALLOC_MMAP_THRESHOLD_=17179869184 MALLOC_TRIM_THRESHOLD_=17179869184
MALLOC_TOP_PAD_=1073741824``.

Other systems (``--system``), for the Qeq solver away from lattices:

- ``uniform``: positions uniform at random in a cube at 0.1 atoms/Å³ (close pairs included),
  σ = 0.8 Å, J uniform in 6–10 eV/e², χ ~ N(0, 1) eV/e, seed 0.
- ``liquid``: the same with no two atoms closer than 1 Å (random points, too-close ones drawn again).
- ``slab``: ``uniform`` in a 2-D periodic slab 20 Å thick (pbc = (True, True, False)).

Usage: ``python benchmarks/electrostatics_scaling.py [--system lattice|uniform|liquid|slab]
[--sizes 1000 10000 100000] [--accuracy 1e-4] [--dense-max 1000] [--repeats 2] [--threads N]``.
"""

import os
import sys

_ALLOCATOR = {
    "MALLOC_MMAP_THRESHOLD_": "17179869184",
    "MALLOC_TRIM_THRESHOLD_": "17179869184",
    "MALLOC_TOP_PAD_": "1073741824",
}
if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in _ALLOCATOR.items()):
    os.environ.update(_ALLOCATOR)
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse
import math
import time

import torch

from lrcalc.electrostatics import energy_forces_stress, qeq
from systems import jittered_lattice_charges

DTYPE = torch.float64


def ionic_liquid(n_target: int, seed: int = 0, density: float = 0.1):
    """Positions (Å), cell (Å), species mask for ~n_target atoms (a cube number)."""
    return jittered_lattice_charges(n_target, seed, density, DTYPE)


def disordered(kind: str, n: int, seed: int = 0, density: float = 0.1):
    """Positions (Å), cell (Å), pbc, χ (eV/e), J (eV/e²), σ (Å) of the ``uniform``, ``liquid`` or
    ``slab`` systems of the module docstring."""
    import numpy as np
    from vesin import NeighborList

    rng = np.random.default_rng(seed)
    if kind == "slab":
        thickness = 20.0
        side = math.sqrt(n / (density * thickness))
        box = np.array([side, side, thickness])
        cell = np.diag([side, side, thickness + 30.0])
        pbc = (True, True, False)
    else:
        side = (n / density) ** (1.0 / 3.0)
        box = np.array([side, side, side])
        cell = np.diag(box)
        pbc = (True, True, True)
    pos = rng.uniform(size=(n, 3)) * box
    if kind == "liquid":  # redraw atoms closer than 1 Å to another until none is
        for _ in range(50):
            i, j = NeighborList(cutoff=1.0, full_list=False).compute(
                points=pos, box=cell, periodic=True, quantities="ij")
            if len(i) == 0:
                break
            redraw = np.unique(np.maximum(i, j))
            pos[redraw] = rng.uniform(size=(len(redraw), 3)) * box
    chi = torch.tensor(rng.normal(size=n), dtype=DTYPE)
    hardness = torch.tensor(rng.uniform(6.0, 10.0, size=n), dtype=DTYPE)
    sigma = torch.full((n,), 0.8, dtype=DTYPE)
    return torch.tensor(pos, dtype=DTYPE), torch.tensor(cell, dtype=DTYPE), pbc, chi, hardness, sigma


def parameters(species_a):
    chi = torch.where(species_a, 3.0, 8.0).to(DTYPE)
    hardness = torch.where(species_a, 5.0, 9.0).to(DTYPE)
    sigma = torch.where(species_a, 1.0, 1.2).to(DTYPE)
    return chi, hardness, sigma


def time_energy_forces(pos, cell, charges, sigma, accuracy, pbc=(True, True, True)):
    start = time.perf_counter()
    energy_forces_stress(pos, charges, cell, pbc=pbc, sigma=sigma, method="p3m", accuracy=accuracy)
    return time.perf_counter() - start


def time_qeq_forces(pos, cell, chi, hardness, sigma, accuracy, solver, method, initial=None,
                    pbc=(True, True, True)):
    start = time.perf_counter()
    cpu_start = time.process_time()
    p = pos.clone().requires_grad_(True)
    charges, energy, info = qeq(
        p,
        chi,
        hardness,
        sigma,
        cell=cell,
        pbc=pbc,
        method=method,
        accuracy=accuracy,
        solver=solver,
        initial_charges=initial,
        return_info=True,
    )
    (grad,) = torch.autograd.grad(energy, p)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    assert torch.isfinite(grad).all()
    return elapsed, info.iterations + sum(info.adjoint_iterations), charges.detach(), cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--system", choices=["lattice", "uniform", "liquid", "slab"], default="lattice")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--accuracy", type=float, default=1e-4)
    parser.add_argument("--dense-max", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs per cell")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's choice); 1 is steadier when other jobs share the cores",
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    def best(fn, *fn_args):
        results = [fn(*fn_args) for _ in range(args.repeats)]
        return min(results, key=lambda r: r[0] if isinstance(r, tuple) else r)

    # warm-up (library loading, first allocations) outside the timings
    pos, cell, species_a = ionic_liquid(216)
    chi, hardness, sigma = parameters(species_a)
    time_qeq_forces(pos, cell, chi, hardness, sigma, args.accuracy, "cg", "p3m")

    print(
        f"system {args.system}; torch {torch.__version__}, {torch.get_num_threads()} threads, float64, "
        f"accuracy {args.accuracy:g}, allocator env fixed ({', '.join(_ALLOCATOR)})"
    )
    header = (
        f"{'N':>7} | {'E+F P3M':>9} | {'Qeq+F cold':>10} {'(CPU s)':>8} {'iters':>5} | "
        f"{'Qeq+F warm':>10} {'iters':>5} | {'dense Qeq+F':>11}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for n_target in args.sizes:
        if args.system == "lattice":
            pos, cell, species_a = ionic_liquid(n_target)
            chi, hardness, sigma = parameters(species_a)
            pbc = (True, True, True)
        else:
            pos, cell, pbc, chi, hardness, sigma = disordered(args.system, n_target)
            species_a = torch.arange(pos.shape[0]) % 2 == 0
        n = pos.shape[0]
        charges = torch.where(species_a, 0.5, -0.5).to(DTYPE)
        t_ef = best(time_energy_forces, pos, cell, charges, sigma, args.accuracy, pbc)
        t_qeq, iters, q, cpu_qeq = best(
            time_qeq_forces, pos, cell, chi, hardness, sigma, args.accuracy, "cg", "p3m", None, pbc
        )
        moved = pos + 0.02 * torch.randn(pos.shape, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
        t_warm, iters_warm, _, _ = best(
            time_qeq_forces, moved, cell, chi, hardness, sigma, args.accuracy, "cg", "p3m", q, pbc
        )
        if n <= args.dense_max:
            t_dense, _, q_dense, _ = best(
                time_qeq_forces, pos, cell, chi, hardness, sigma, args.accuracy, "dense", "ewald", None, pbc
            )
            dense = f"{t_dense:11.2f}"
            deviation = float((q_dense - q).abs().max())
        else:
            t_dense, dense, deviation = None, f"{'(skipped)':>11}", None
        rows.append((n, t_ef, t_qeq, t_warm, cpu_qeq))
        print(
            f"{n:7d} | {t_ef:9.2f} | {t_qeq:10.2f} {cpu_qeq:8.2f} {iters:5d} | "
            f"{t_warm:10.2f} {iters_warm:5d} | {dense}"
            + ("" if deviation is None else f"   (max |q_cg - q_dense| = {deviation:.1e} e)"),
            flush=True,
        )
    if len(rows) >= 2:
        (n1, *t1), (n2, *t2) = rows[-2], rows[-1]
        names = ["E+F P3M", "Qeq+F cold", "Qeq+F warm", "Qeq+F cold (CPU time)"]
        exps = ", ".join(
            f"{name} N^{math.log(b / a) / math.log(n2 / n1):.2f}"
            for name, a, b in zip(names, t1, t2, strict=True)
        )
        print(f"fitted exponents between N={n1} and N={n2}: {exps}")
    print(
        "dense Qeq beyond --dense-max is skipped: its O(N²) matrix is 0.8 GB and ~200 s to build at N=10⁴ "
        "(shared/perf_notes.md), 80 GB at N=10⁵."
    )


if __name__ == "__main__":
    main()
