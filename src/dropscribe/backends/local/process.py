"""One local engine worker process, seen from the daemon: its pipe, its jobs, its life.

The process is spawned (never forked: the daemon has threads) and runs
local_worker.main. A reader thread hands every message to ``on_message`` and,
when the pipe closes, reaps the process and calls ``on_exit``; nothing else
waits on the process, because two threads reaping it race on waitpid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

import structlog

from dropscribe import workers
from dropscribe.backends.local.protocol import EngineOptions, ParentMessage, Stop, WorkerMessage
from dropscribe.backends.local.worker import main as worker_main

log = structlog.get_logger("dropscribe.local")

#: What the backend keeps per job on a worker.
SlotT = TypeVar("SlotT")


class WorkerProcess(Generic[SlotT]):
    """One worker process, the jobs it holds and the thread that reads its messages."""

    def __init__(
        self,
        options: EngineOptions,
        on_message: Callable[[WorkerProcess[SlotT], WorkerMessage], None],
        on_exit: Callable[[WorkerProcess[SlotT]], None],
    ) -> None:
        parent, child = workers.spawn_context().Pipe()
        self.connection: Connection = parent
        self.process: BaseProcess = workers.start(
            worker_main, (child, options), name="dropscribe-worker"
        )
        child.close()
        self._on_message = on_message
        self._on_exit = on_exit
        #: Set once the worker has loaded its model (or failed to: then ``fatal`` says why).
        self.ready = threading.Event()
        self.fatal: str | None = None
        self.multilingual: bool | None = None
        #: Jobs sent to this worker and not yet settled, by job id.
        self.jobs: dict[int, SlotT] = {}
        #: Jobs being transcribed now (one or more per parallel decode).
        self.running: set[int] = set()
        self.dead = False
        assert self.process.pid is not None
        self.pid: int = self.process.pid
        self.exited = threading.Event()
        threading.Thread(target=self._read, daemon=True, name="dropscribe-worker-reader").start()

    def _read(self) -> None:
        while True:
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                break
            self._on_message(self, message)
        self.process.join(timeout=10)
        self.exited.set()
        self._on_exit(self)

    def send(self, message: ParentMessage) -> None:
        self.connection.send(message)

    @property
    def exit_code(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        self.dead = True
        if not self.exited.is_set():
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        self.exited.wait(timeout=10)
        self.connection.close()

    def stop(self, grace: float = 2.0) -> None:
        """Ask the worker to exit by itself (cleaning up after itself); kill it if it does not.

        An explicit message, because closing our end while the reader thread is blocked
        in recv() on it does not deliver end-of-file to the worker.
        """
        self.dead = True
        with contextlib.suppress(OSError, ValueError):
            self.connection.send(Stop())
        if not self.exited.wait(timeout=grace):
            log.warning("worker_killed", pid=self.pid, reason="did not exit in time")
        self.kill()

    def memory_mb(self) -> float:
        """Return the worker's resident memory in MiB (0 when unknown)."""
        try:
            with open(f"/proc/{self.pid}/statm") as stream:
                pages = int(stream.read().split()[1])
        except (OSError, ValueError, IndexError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
