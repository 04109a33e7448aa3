"""One local engine worker process, seen from the daemon: its messages, its jobs, its life.

The process is started by :class:`dropscribe.workers.spawn.Worker` and runs
``worker.main``. A reader thread hands every message to ``on_message`` and,
when the worker's end closes, reaps the process and calls ``on_exit``;
nothing else waits on the process, because two threads reaping it race on
waitpid. A message that is not one of the protocol's ends the worker: its
jobs are settled as for a crash, with :attr:`WorkerProcess.failure` as the
reason.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import structlog

from dropscribe.backends.local.protocol import (
    STARTED,
    WORKER_MESSAGES,
    EngineOptions,
    ParentMessage,
    Stop,
    WorkerMessage,
)
from dropscribe.workers.messages import MessageError
from dropscribe.workers.spawn import Worker

log = structlog.get_logger("dropscribe.local")

#: What the worker process runs (``module:function``).
WORKER_TARGET = "dropscribe.backends.local.worker:main"
#: How long a worker may take to load its model and say so.
LOAD_SECONDS = 120.0
#: What the log and the sentences call it.
WHAT = "transcription worker"

#: What the backend keeps per job on a worker.
SlotT = TypeVar("SlotT")


class WorkerProcess(Generic[SlotT]):
    """One worker process, the jobs it holds and the thread that reads its messages."""

    def __init__(
        self,
        options: EngineOptions,
        on_message: Callable[[WorkerProcess[SlotT], WorkerMessage], None],
        on_exit: Callable[[WorkerProcess[SlotT]], None],
        target: str = WORKER_TARGET,
    ) -> None:
        self.worker = Worker(target, what=WHAT, ready=STARTED, start_seconds=LOAD_SECONDS)
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
        self.pid: int = self.worker.pid
        self.exited = threading.Event()
        with_options = threading.Thread(
            target=self._read, args=(options,), daemon=True, name="dropscribe-worker-reader"
        )
        with_options.start()

    @property
    def failure(self) -> str | None:
        """Why the worker was stopped by us (garbage sent, never ready), in one sentence."""
        return self.worker.failure

    def _read(self, options: EngineOptions) -> None:
        try:
            self.worker.send(options)
            while (message := self.worker.receive(WORKER_MESSAGES)) is not None:
                self._on_message(self, message)
        except OSError:
            pass  # it exited before it read its options: its exit code says why
        except MessageError as exc:
            log.warning("worker_message_refused", pid=self.pid, error=str(exc)[:300])
            self.worker.stop_for(
                f"The {WHAT} sent a message that is not of its protocol and was stopped."
            )
        except Exception:  # the reader must live to settle the jobs, whatever went wrong
            log.exception("worker_message_failed", pid=self.pid)
            self.worker.stop_for(f"The {WHAT}'s message could not be acted on; it was stopped.")
        self.worker.close()
        self.exited.set()
        self._on_exit(self)

    def send(self, message: ParentMessage) -> None:
        self.worker.send(message)

    @property
    def exit_code(self) -> int | None:
        return self.worker.exit_code

    def kill(self) -> None:
        self.dead = True
        if not self.exited.is_set():
            self.worker.kill()
        self.exited.wait(timeout=10)

    def stop(self, grace: float = 2.0) -> None:
        """Ask the worker to exit by itself (cleaning up after itself); kill it if it does not."""
        self.dead = True
        with contextlib.suppress(OSError, ValueError):  # it is gone already
            self.worker.send(Stop())
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
