"""What a worker process does to itself before its work: end with the daemon, cap its memory.

Every worker ends when the daemon does, even when the daemon is killed
(``kill -9``): a worker left decoding would hold a core and gigabytes of memory
for nothing. Two mechanisms, because each has a gap: the kernel's
``PR_SET_PDEATHSIG`` acts at once but fires when the *thread* that started the
worker ends (right for a worker that thread waits on, wrong for the engine's,
which outlive the thread that happened to start them), and a watch on the
parent's pid that notices within :data:`WATCH_SECONDS` whichever thread
started it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import threading

#: How often a worker looks whether the daemon that started it is still there.
WATCH_SECONDS = 0.5
PR_SET_PDEATHSIG = 1


def watch_parent(parent: int) -> None:
    """End this process soon after ``parent`` is gone (it is then no longer our parent)."""
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="dropscribe-parent-watch").start()


def die_with_the_starting_thread() -> None:
    """Be killed by the kernel the moment the daemon's thread that started us ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pid watch still ends the worker
        pass


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space, so a hostile file cannot exhaust the machine."""
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
