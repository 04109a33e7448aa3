"""How a worker process spends its CPU cores: threads per decode, decodes at once.

CTranslate2 runs one decode on ``cpu_threads`` threads and, with
``inter_threads`` (faster-whisper's ``num_workers``), several decodes at once,
each on its own copy of the model. Measured on 2 cores with tiny.en
(bench/README.md): sequential decoding of a 248 s reading took 12-15 s on one
thread and 18 s on two or four, because the matrices of one decode are too
small to share across threads; two decodes of one thread each, running side
by side, used both cores fully. So the automatic choice gives each decode few
threads and runs as many decodes as the cores allow. The batched mode uses
the parallel decodes for the windows of one recording.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: CTranslate2's own cap on threads for one decode.
MAX_THREADS_PER_DECODE = 4
#: Every parallel decode holds its own copy of the model (about 40 MB for tiny.en).
MAX_PARALLEL_DECODES = 4


@dataclass(frozen=True)
class ThreadPlan:
    threads_per_decode: int
    parallel_decodes: int


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which systemd's CPUAffinity sets)."""
    return len(os.sched_getaffinity(0)) or 1


def plan_threads(
    cpu_threads: int,
    parallel_decodes: int,
    workers: int,
    cores: int | None = None,
    device: str = "cpu",
) -> ThreadPlan:
    """Apply ``cpu_threads`` and ``parallel_decodes`` (0 means automatic) for one worker
    of ``workers``, so that all workers together use the cores without oversubscribing."""
    share = max(1, (cores or usable_cores()) // workers)
    threads = cpu_threads or max(1, min(MAX_THREADS_PER_DECODE, share // 4))
    parallel = parallel_decodes or max(1, min(MAX_PARALLEL_DECODES, share // threads))
    if device == "cuda":
        # A GPU runs a batch on all its cores already; copies of the model would only
        # take its memory.
        parallel = 1
    return ThreadPlan(threads, parallel)


def decodes_for_file(parallel_decodes: int, decodes_in_use: int, files_waiting: int) -> int:
    """Return how many of a worker's parallel decodes the file it starts now may use.

    Files waiting in the worker get the free decodes soon, so files go side by side
    one decode each; a file alone takes every free decode (its parts run side by
    side). Never more than are free, so the decodes never outnumber the model's
    copies (CTranslate2 would queue the excess, not oversubscribe, but the parts
    would then wait for each other).
    """
    free = parallel_decodes - decodes_in_use
    if files_waiting > 0:
        return 1
    return max(1, free)
