"""glibc malloc settings for long autograd runs (used by the ``lrcalc train`` command).

With glibc's defaults, every training step returns its large intermediate tensors to the operating
system and page-faults them back in at the next step. Keeping freed memory in the process
(``mallopt``: no trimming, a large top pad, a high mmap threshold) made training on the Cu-BTA data
about 2.5× faster here (``../shared/perf_notes.md`` reports 2.5–3.7× for larger models), for some
more resident memory. The command-line entry point applies it; the Python API leaves the process's
allocator alone. Setting any ``MALLOC_*_`` environment variable, or ``LRCALC_MALLOC_TUNING=0``, opts
out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Apply the settings when running on glibc and the user set none; returns whether it did."""
    if not sys.platform.startswith("linux") or os.environ.get("LRCALC_MALLOC_TUNING", "1") == "0":
        return False
    if any(key.startswith("MALLOC_") and key.endswith("_") for key in os.environ):
        return False  # the user chose their own settings
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # The largest mmap threshold glibc accepts through mallopt is 32 MiB on 64-bit systems.
    done = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    done &= mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    done &= mallopt(M_TOP_PAD, 1 << 30)
    return bool(done)
