"""Starting a worker process: the one way, for all three kinds of worker.

:class:`Worker` runs ``python -m dropscribe.workers.child module:function`` (a
fresh interpreter, never a fork of a daemon holding threads, locks and an open
SQLite file; and not the daemon's own main module again, as multiprocessing's
spawn would, which would import the command line and the settings into every
worker). The child ends with the daemon, caps its address space when told,
and speaks :mod:`.messages` over its stdin and stdout (:mod:`.channel`).

A worker has ``start_seconds`` to send one of its ``ready`` messages; one that
does not is killed, and :attr:`Worker.failure` says so in one sentence.
"""

from __future__ import annotations

import contextlib
import os
import site
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

from dropscribe.workers.channel import Channel

M = TypeVar("M")
#: How long a worker may take to say it is ready, unless its owner says otherwise.
START_SECONDS = 120.0
#: The folder holding this dropscribe: the worker imports the same code as the daemon.
SOURCE = str(Path(__file__).resolve().parents[2])


class Worker:
    """A started worker process and its channel (see the module docstring)."""

    def __init__(
        self,
        target: str,
        *,
        what: str,
        ready: Sequence[type],
        start_seconds: float = START_SECONDS,
        memory_mb: int = 0,
        with_thread: bool = False,
        env: Mapping[str, str] | None = None,
        stderr: IO[bytes] | None = None,
    ) -> None:
        # -P: not the working directory first on the path (it may be anyone's folder).
        command = [sys.executable, "-P", "-m", "dropscribe.workers.child", target]
        command += ["--parent", str(os.getpid()), "--memory-mb", str(memory_mb)]
        if with_thread:
            command.append("--with-thread")
        #: What the worker is, as the sentences about it name it ("speaker worker").
        self.what = what
        self.process = subprocess.Popen(  # raises OSError when it cannot start
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_environment(env or {}),
            bufsize=0,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.channel = Channel(self.process.stdout.fileno(), self.process.stdin.fileno())
        self.pid: int = self.process.pid
        self._ready_kinds = tuple(ready)
        #: Set once it has said it is ready.
        self.ready = threading.Event()
        #: Why the worker was stopped, in one sentence (None while nothing went wrong).
        self.failure: str | None = None
        self._timer = threading.Timer(start_seconds, self._not_ready, (start_seconds,))
        self._timer.daemon = True
        self._timer.start()

    def send(self, message: object) -> None:
        """Send ``message``; raises OSError (or ValueError once closed) when it cannot go."""
        self.channel.send(message)

    def poll(self, timeout: float | None) -> bool:
        """Return whether a message (or the end) is there to read, waiting up to ``timeout``."""
        return self.channel.poll(timeout)

    def receive(self, kinds: Sequence[type[M]]) -> M | None:
        """Return the worker's next message, or None when it has closed its end (exited).

        Raises:
            MessageError: the worker said something that is not one of ``kinds``; the
                caller is to :meth:`stop_for` it.
        """
        message = self.channel.receive(kinds)
        if not self.ready.is_set() and isinstance(message, self._ready_kinds):
            self._timer.cancel()
            self.ready.set()
        return message

    def stop_for(self, reason: str) -> None:
        """Kill the worker for ``reason`` (kept as :attr:`failure`: the first reason wins)."""
        self.failure = self.failure or reason
        self.kill()

    def kill(self) -> None:
        self._timer.cancel()
        with contextlib.suppress(OSError):
            self.process.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        """Reap the worker; return its exit code (negative: the signal), None if it runs on."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def exit_code(self) -> int | None:
        return self.process.returncode

    def close(self) -> None:
        """Kill the worker if it runs, reap it and close its pipes."""
        self.kill()
        self.process.wait()
        self.channel.closed()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _not_ready(self, seconds: float) -> None:
        if not self.ready.is_set():
            self.stop_for(f"The {self.what} did not start within {seconds:.0f} s and was stopped.")


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """Return the daemon's environment with ``extra``, and this dropscribe first on the path
    (unless it is installed: a site folder first on the path would shadow the standard
    library)."""
    environment = {**os.environ, **extra}
    if SOURCE not in {*site.getsitepackages(), site.getusersitepackages()}:
        path = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = f"{SOURCE}{os.pathsep}{path}" if path else SOURCE
    return environment
