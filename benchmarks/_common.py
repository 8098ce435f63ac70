"""Helpers shared by the benchmark scripts: a fixed allocator setting and robust timing."""

from __future__ import annotations

import os
import statistics
import sys
import time

from lrcalc.allocator import TUNED_ENVIRONMENT as TUNED_MALLOC  # one definition of the setting


def ensure_allocator(tuned: bool = True) -> str:
    """Re-execute this script with glibc's malloc tuned (or explicitly untuned), so that every timing
    in a table runs under one known setting (see ../shared/perf_notes.md). Returns a description."""
    wanted = TUNED_MALLOC if tuned else {}
    current = {key: os.environ.get(key) for key in TUNED_MALLOC}
    if any(current[key] != wanted.get(key) for key in TUNED_MALLOC):
        env = {k: v for k, v in os.environ.items() if k not in TUNED_MALLOC}
        env.update(wanted)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    return "tuned glibc malloc (MALLOC_MMAP/TRIM_THRESHOLD_=16 GiB, TOP_PAD_=1 GiB)" if tuned else "default glibc malloc"


def median_time(function, repeats: int = 3, warmup: int = 1, budget_s: float | None = None) -> float:
    """Median wall time (s) of ``function()`` after ``warmup`` calls; stops early past ``budget_s``."""
    for _ in range(warmup):
        function()
    times = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
        if budget_s is not None and time.perf_counter() - start > budget_s:
            break
    return statistics.median(times)


def fit_exponent(sizes, times) -> float:
    """Least-squares slope of log(time) against log(size)."""
    import numpy as np

    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def baseline_checkout(revision: str):
    """A detached checkout of ``revision`` of this repository in a temporary directory (removed at
    exit), for timing older code beside the current one: run it in a child process with
    ``PYTHONPATH`` set to the returned path. ``../shared`` is linked beside it, so its recipes find
    their data."""
    import atexit
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    repository = Path(__file__).resolve().parent.parent
    parent = Path(tempfile.mkdtemp(prefix="lrcalc_baseline_"))
    checkout = parent / "repo"
    subprocess.run(["git", "-C", str(repository), "worktree", "add", "--detach", "--quiet", str(checkout), revision],
                   check=True)
    shared = repository.parent / "shared"
    if shared.exists():
        (parent / "shared").symlink_to(shared)

    def remove():
        subprocess.run(["git", "-C", str(repository), "worktree", "remove", "--force", str(checkout)],
                       check=False, capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)

    atexit.register(remove)
    return checkout


def run_python(code: str, *args: str, pythonpath=None, processes: int = 1) -> str:
    """stdout of ``python -c code args…`` in a child process, importing lrcalc from ``pythonpath``
    (a checkout) when given. The child runs in that directory: ``python -c`` puts its working
    directory first on the path, ahead of ``PYTHONPATH``, so from this repository's root it would
    import this code instead. ``processes`` > 1 runs the code as a script in that many data-parallel
    processes of one thread each (``torch.distributed.run --standalone``); the code prints on rank 0."""
    import subprocess
    import tempfile

    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
    cwd = str(pythonpath) if pythonpath is not None else tempfile.gettempdir()
    if processes == 1:
        return subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True,
                              env=env, cwd=cwd).stdout
    env["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "benchmark_script.py")
        with open(script, "w") as handle:
            handle.write(code)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   script, *args]
        return subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=cwd).stdout


def beside_baseline(code: str, now_args: list, then_args: list, checkout, processes: int = 1) -> tuple[float, float, str]:
    """The number ``code`` prints with this code and with the checkout's (each in a fresh process,
    or ``processes`` data-parallel ones); ``code`` prints its number, then ``lrcalc.__file__``. Refuses
    a pair that imported the same code. Returns (now, then, a line naming both imports)."""
    now, now_code = run_python(code, *now_args, processes=processes).split()
    then, then_code = run_python(code, *then_args, pythonpath=checkout, processes=processes).split()
    if now_code == then_code:
        raise RuntimeError(f"both runs imported {now_code}: the baseline did not load its own code")
    return float(now), float(then), f"# lrcalc imported from {now_code} and {then_code}"
