"""Memory of this machine, and up-front refusal of allocations that cannot fit.

A request that needs more memory than the machine has fails after seconds or
minutes with numpy's ``MemoryError: Unable to allocate 3.64 TiB``, far from the
argument that asked for it. :func:`check_memory` refuses it before any work, with
an estimate and the argument to change.
"""

from __future__ import annotations

import os

__all__ = ["available_memory", "check_memory", "format_bytes", "total_memory"]


def _meminfo(key: str) -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return None


def _psutil_memory(field: str) -> float | None:
    """``psutil.virtual_memory().<field>`` if psutil (optional) is installed and answers."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        return float(getattr(psutil.virtual_memory(), field))
    except (psutil.Error, OSError, AttributeError):
        return None


def total_memory() -> float | None:
    """Physical memory of the machine in bytes (``None`` if it cannot be read)."""
    value = _psutil_memory("total")
    if value is not None:
        return value
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def available_memory() -> float | None:
    """Memory available to a new allocation in bytes (``None`` if it cannot be read).

    ``psutil.virtual_memory().available`` when psutil is installed, else the kernel's
    ``MemAvailable``, else free pages (``os.sysconf``).
    """
    value = _psutil_memory("available")
    if value is not None:
        return value
    avail = _meminfo("MemAvailable")
    if avail is not None:
        return avail
    try:
        return float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_AVPHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024.0
    return f"{n:.3g} EiB"  # pragma: no cover


def check_memory(need: float, what: str, fix: str, *, total: bool = False) -> None:
    """Raise a ``ValueError`` when ``need`` bytes exceed the available memory.

    ``what`` says who asks for it (``"`n=10000000000` particles"``), ``fix`` what to
    change. ``total=True`` compares with the machine's whole memory instead (for a
    need that comes later, such as a grid's generator). Does nothing when the memory
    cannot be read.
    """
    have = total_memory() if total else available_memory()
    if have is not None and need > have:
        where = (f"this machine's {format_bytes(have)} of memory" if total
                 else f"the {format_bytes(have)} available on this machine")
        raise ValueError(f"{what} needs about {format_bytes(need)} of memory, more than {where}; {fix}")
