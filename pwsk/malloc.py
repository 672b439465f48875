"""Big blocks go back to the system once freed (glibc).

glibc serves an allocation of 128 KiB or more with its own ``mmap`` and unmaps it on free,
but each such free raises that threshold (up to 32 MiB), so later big blocks come from the
heap, where a freed block stays with the process. A service passing results of hundreds of
kB (the result limit is 1 MB) then keeps its high-water mark for good: 2,500 results of 500
kB left a standalone at 450 MB (74 MB after ``malloc_trim``); with the threshold pinned at
128 KiB, at ~90 MB. Setting it explicitly turns the adjustment off (mallopt(3)). Small
objects, Python's own arenas included, are not affected.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3
THRESHOLD = 128 * 1024


def return_big_blocks() -> bool:
    """Pin glibc's mmap threshold; False where there is no glibc or the operator set
    ``MALLOC_MMAP_THRESHOLD_`` already."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
