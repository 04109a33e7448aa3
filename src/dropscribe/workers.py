"""Worker processes: started one way, and none outlives the daemon that started it.

Three kinds of work run in processes of their own: the engine (a model per
worker, messages over a pipe), compacting uploads (a program reading JSON on
stdin, under an address-space limit) and speaker labels (one request, one
answer). Whatever their messages, they are started from here and each one
ends when the daemon does, even when the daemon is killed (``kill -9``): a
worker left decoding would hold a core and gigabytes of memory for nothing.

Two mechanisms, because each has a gap: the kernel's ``PR_SET_PDEATHSIG``
acts at once but fires when the *thread* that started the worker ends (right
for a worker some thread waits on), and a watch on the parent's pid that
notices within :data:`WATCH_SECONDS` whichever thread started it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Callable
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

#: Tells a worker program which process started it (it must not outlive that one).
PARENT_VARIABLE = "DROPSCRIBE_PARENT_PID"
#: How often a worker looks whether the daemon that started it is still there.
WATCH_SECONDS = 0.5
PR_SET_PDEATHSIG = 1


def spawn_context() -> SpawnContext:
    """Return the one way workers are made: a fresh interpreter (never a fork of a
    daemon holding threads, locks and an open SQLite file)."""
    return multiprocessing.get_context("spawn")


def start(target: Callable[..., Any], args: tuple[Any, ...], *, name: str) -> BaseProcess:
    """Start ``target(*args)`` in a worker process that ends when this process does."""
    process = spawn_context().Process(
        target=_run, args=(target, args, os.getpid()), name=name, daemon=True
    )
    process.start()
    return process


def _run(target: Callable[..., Any], args: tuple[Any, ...], parent: int) -> None:
    watch_parent(parent)
    target(*args)


def watch_parent(parent: int) -> None:
    """End this process soon after ``parent`` is gone (it is then no longer our parent)."""
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="dropscribe-parent-watch").start()


def die_with_the_daemon() -> None:
    """For a worker program (started with :data:`PARENT_VARIABLE` set): be killed by the
    kernel when the daemon's thread waiting for it ends, and watch the daemon's pid."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pid watch still ends the worker
        pass
    daemon = os.environ.get(PARENT_VARIABLE)
    if daemon is not None:
        watch_parent(int(daemon))


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space, so a hostile file cannot exhaust the machine."""
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
