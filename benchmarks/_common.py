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
