"""glibc malloc settings for long autograd runs (applied by the ``lrcalc train``, ``evaluate``,
``md`` and ``relax`` commands, not by the Python API, which leaves the process's allocator alone).

With glibc's defaults, a training step hands the memory of its freed intermediate tensors back to the
operating system (trimming the heap top) and page-faults it back in at the next step. Turning
trimming off and keeping a 1 GiB pad on the heap top avoids that: on the Cu-BTA data (2 layers,
l_max 1, 16 features, float32, batch 4, one thread) an epoch took 4.7 s instead of 6.5 s, the same
as with ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_TOP_PAD_`` set in the environment
(``../shared/perf_notes.md``). Fixing the mmap threshold as well (``M_MMAP_THRESHOLD``, at most
32 MiB through ``mallopt``) was slower (6.7 s) and is not done: glibc 2.36 ignores the 16 GiB
``MALLOC_MMAP_THRESHOLD_`` of the notes, so the gain measured there came from these two settings.

At run time, ``mallopt`` does not reach what the environment variables do when set before the process
starts: ``benchmarks/allocator.py`` (bulk Cu, 4000 atoms, short-range model, float32; each setting in a
fresh process) measured 1126 µs/atom with glibc's defaults, 1119–1186 with every ``mallopt`` variant
here (trim and pad; plus a 32 MiB mmap threshold; or no mmap at all) and 650 with
``MALLOC_MMAP_THRESHOLD_``/``TRIM_THRESHOLD_``/``TOP_PAD_`` in the environment. So the commands
that run a model restart themselves once with the variables set (:func:`reexec_with_tuned_environment`,
from ``lrcalc.cli.entry``), and the Python API, which cannot restart a user's script, leaves the
choice to the user (the README says what to export); :func:`tune_allocator` remains for training
epochs (4.7 s instead of 6.5 s when it was measured) and for processes started without the variables.

Any ``MALLOC_*_`` variable in the environment (the user's own settings), or
``LRCALC_MALLOC_TUNING=0``, leaves the allocator untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4


def tune_allocator(mmap: bool = False) -> bool:
    """Apply the settings on glibc unless the user chose their own; returns whether it did.

    ``mmap=True`` also sets ``M_MMAP_MAX`` to 0: large blocks then come from the heap, which is kept,
    instead of fresh ``mmap`` pages that the kernel zero-fills at every step (the effect of
    ``MALLOC_MMAP_THRESHOLD_`` in the environment, which ``mallopt`` cannot set above 32 MiB);
    ``benchmarks/allocator.py`` measures each setting."""
    if not sys.platform.startswith("linux") or user_chose():
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False  # not glibc (e.g. musl): nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # mallopt takes an int: 2³¹ − 1 (2 GiB) would still trim after every step of a large system, whose
    # autograd temporaries exceed it; glibc stores the value as a size_t, so −1 means "never trim".
    done = bool(mallopt(M_TRIM_THRESHOLD, -1) and mallopt(M_TOP_PAD, 1 << 30))
    if mmap:
        done = bool(mallopt(M_MMAP_MAX, 0)) and done
    return done


TUNED_ENVIRONMENT = {
    "MALLOC_MMAP_THRESHOLD_": "17179869184",
    "MALLOC_TRIM_THRESHOLD_": "17179869184",
    "MALLOC_TOP_PAD_": "1073741824",
}
"""The settings of ../shared/perf_notes.md; they act only when set before the process starts."""


def user_chose(environ=os.environ) -> bool:
    """Whether the user set a glibc ``MALLOC_*_`` variable or opted out (``LRCALC_MALLOC_TUNING=0``)."""
    return environ.get("LRCALC_MALLOC_TUNING", "1") == "0" or any(
        key.startswith("MALLOC_") and key.endswith("_") for key in environ)


def reexec_with_tuned_environment(argv: list[str]) -> None:
    """Replace this process by ``argv`` with :data:`TUNED_ENVIRONMENT` set (same PID; never returns),
    unless the user chose their own setting or this is not Linux. The ``lrcalc`` commands that run a
    model (train, evaluate, md, relax) start this way: on 4000 atoms of bulk Cu an energy+forces+stress
    step took 650 µs/atom instead of 1126 (``benchmarks/allocator.py``), for ~40 % more peak memory."""
    if not sys.platform.startswith("linux") or user_chose():
        return
    environ = {**os.environ, **TUNED_ENVIRONMENT, "LRCALC_MALLOC_TUNED": "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, environ)
