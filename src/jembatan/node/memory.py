"""Keep a long-running node's memory flat while it streams large files.

glibc raises its mmap threshold after large blocks are freed (so later 1 MiB buffers come
from the heap and fragment it) and gives every thread its own arena. A node that moves
gigabytes in 1 MiB chunks through several threads then holds on to memory it no longer
uses. Fixing the threshold and capping arenas keeps peak RSS near the idle size; see
docs/performance.md. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_allocator() -> bool:
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1
    return bool(mallopt(M_ARENA_MAX, 2) == 1 and ok)
