"""This process's peak memory, as the benchmarks report it.

Why one module: three benchmarks read the same kernel figure, and each reading must mean
the same thing in their tables.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_mb() -> float:
    """Peak RSS in MB since the process started (or since ``reset_peak``).

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its
    parent's peak. ru_maxrss only where /proc is not there.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak() -> bool:
    """Start a new peak (``/proc/self/clear_refs``), so each phase gets its own; False where
    the kernel does not allow it (the peak then keeps counting from the start)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False
