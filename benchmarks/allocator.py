"""What glibc malloc settings are worth for a Python user's MD step, each setting in a fresh process.

    python benchmarks/allocator.py [--repeat 10] [--steps 6]

The short-range model of speed_sr.py (3 layers, l_max 1, 32 features, 5 Å, float32) on bulk Cu
(4·repeat³ atoms), energy + forces + stress through LRCalculator after a small random move, 2 threads.
Rows:
- ``default``: glibc as it comes;
- ``mallopt trim+pad``: ``lrcalc.allocator.tune_allocator(mmap=False)`` (no trimming, 1 GiB top pad);
- ``mallopt trim+pad+mmap 32 MiB``: the same plus M_MMAP_THRESHOLD = 32 MiB (the most mallopt takes);
- ``mallopt trim+pad+no-mmap``: ``tune_allocator(mmap=True)``: M_MMAP_MAX = 0 instead, so that large
  tensors come from the heap instead of fresh mmap'd pages at every step;
- ``env MMAP+TRIM+TOP_PAD``: the environment variables of ../shared/perf_notes.md set before the
  process starts (what benchmarks and CI use).
Prints µs per atom per step (median of ``--steps``), the ratio to ``default`` and the peak RSS.
``mallopt`` rows apply their setting at run time, after Python and torch have started, which is all
the Python API could do; the ``env`` row is set before the process starts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from lrcalc.allocator import TUNED_ENVIRONMENT as TUNED_ENV

ROWS = {
    "default": ({}, "none"),
    "mallopt trim+pad": ({}, "trim"),
    "mallopt trim+pad+mmap 32 MiB": ({}, "threshold"),
    "mallopt trim+pad+no-mmap": ({}, "full"),
    "env MMAP+TRIM+TOP_PAD": (TUNED_ENV, "none"),
}


def measure(repeat: int, steps: int, tuning: str) -> dict:
    import resource
    import statistics
    import time

    import numpy as np
    import torch

    torch.set_num_threads(2)
    import lrcalc
    from lrcalc.allocator import tune_allocator
    from systems import bulk_cu

    if tuning != "none":
        tune_allocator(mmap=(tuning == "full"))
    if tuning == "threshold":
        import ctypes

        mallopt = ctypes.CDLL("libc.so.6").mallopt
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
    model = lrcalc.build_model({"species": ["Cu"], "cutoff": 5.0, "num_layers": 3, "l_max": 1,
                                "num_features": 32, "avg_num_neighbors": 42.0, "dtype": "float32"})
    atoms = bulk_cu(repeat)
    calc = lrcalc.LRCalculator(model)
    rng = np.random.default_rng(0)
    times = []
    for step in range(steps + 1):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        start = time.perf_counter()
        calc.calculate(atoms, ["energy", "forces", "stress"], ["positions"])
        if step:  # the first call builds caches
            times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"us_per_atom": 1e6 * statistics.median(times) / len(atoms), "atoms": len(atoms), "peak_mb": peak_mb}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="bulk Cu cells per axis (10: 4000 atoms)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.repeat, args.steps, args.child)))
        return
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "LRCALC_MALLOC_TUNING"}
    clean["LRCALC_MALLOC_TUNING"] = "0"  # the child applies exactly what its row says
    print(f"# bulk Cu, {4 * args.repeat**3} atoms, short-range model (3 layers, l_max 1, 32 features, 5 Å, "
          f"float32), energy+forces+stress via LRCalculator, 2 threads; each row a fresh process")
    print(f"{'setting':>28} {'µs/atom':>9} {'× default':>10} {'peak MB':>9}")
    baseline = None
    for label, (env, tuning) in ROWS.items():
        out = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat), "--steps", str(args.steps),
                              "--child", tuning], env={**clean, **env}, capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(out.returncode)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        baseline = baseline or row["us_per_atom"]
        print(f"{label:>28} {row['us_per_atom']:>9.0f} {row['us_per_atom'] / baseline:>10.2f} {row['peak_mb']:>9.0f}",
              flush=True)


if __name__ == "__main__":
    main()
