"""The memory ceiling of a local engine worker, derived from the machine by default.

A worker holds the model and the decoded audio of the files in hand (about
230 MB an hour of audio). Decoding is bounded by the duration limit, but the
ceiling is the last guard against what no limit foresaw (a codec's own
allocations, a model that grows): past it the worker is stopped and replaced,
before the kernel's OOM killer picks a victim of its own.

Default (``max_memory_mb = 0``): half of the memory the machine gives
dropscribe (its RAM, or its cgroup's limit when lower, as under systemd's
``MemoryMax=`` or in a container), shared among the workers, never under
``MINIMUM_MB``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The share of the machine's memory that the workers may use together.
MACHINE_SHARE = 0.5
#: The least a worker gets: the model and an hour of audio.
MINIMUM_MB = 1024
#: Where the kernel tells the limit of our cgroup (v2, then v1).
CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


def worker_memory_limit_mb(configured_mb: int, workers: int, machine_mb: int) -> int:
    """Return the resident memory a worker may use: the setting, or a share of the machine."""
    if configured_mb:
        return configured_mb
    return max(MINIMUM_MB, int(machine_mb * MACHINE_SHARE / max(1, workers)))


def machine_memory_mb(
    meminfo: Path = Path("/proc/meminfo"), cgroup_limits: tuple[Path, ...] = CGROUP_LIMITS
) -> int:
    """Return the memory this process may use in MiB: physical memory, or a lower cgroup limit."""
    total = _meminfo_total_mb(meminfo)
    for path in cgroup_limits:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) means no limit; v1 says so with a huge number
            total = min(total, int(text) // 2**20)
    return total


def _meminfo_total_mb(meminfo: Path) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
