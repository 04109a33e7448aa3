"""The file a running daemon holds locked: who it is, since when, which version.

The lock (``flock``) is the truth, not the pid written inside: the kernel drops
it when the daemon's process ends however it ends, so a stale file left by a
crash never reads as running, and a recycled pid is never trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from dropscribe.config import PathsSettings
from dropscribe.errors import DropscribeError


class AlreadyRunning(DropscribeError):
    """Another daemon holds the lock of this job store."""


@dataclass(frozen=True)
class DaemonInfo:
    """What the running daemon wrote into its lock file (None where it had not yet)."""

    pid: int | None
    started_at: float | None
    version: str | None
    #: What holds the daemon's work back now (a full disk, the inbox away); empty: nothing.
    not_ready: tuple[str, ...] = ()


#: The lock file's size: the record is padded to it, so that a later note is written
#: over bytes the file already has and never needs space from a full disk.
RECORD_BYTES = 4096


def lock_path(paths: PathsSettings) -> Path:
    """Return the lock file of the daemon that owns this job store."""
    return paths.state.with_suffix(".lock")


class DaemonLock:
    """Held for the daemon's whole life; ``release`` at a clean stop."""

    def __init__(self, descriptor: int, record: dict[str, object] | None = None) -> None:
        self._descriptor = descriptor
        self._record = record or {}

    @classmethod
    def acquire(cls, path: Path, version: str, started_at: float) -> DaemonLock:
        """Lock ``path`` and write this process's pid, start time and version into it.

        Raises:
            AlreadyRunning: another process holds the lock.
        """
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read(descriptor)
            os.close(descriptor)
            raise _already_running(path, other) from None
        record = {"pid": os.getpid(), "started_at": started_at, "version": version}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, _padded(record), 0)
        return cls(descriptor, record)

    def note(self, not_ready: list[str]) -> None:
        """Write what holds the work back now (for ``status``); best effort: on a
        read-only disk it stays unwritten."""
        record = {**self._record, "not_ready": not_ready}
        with contextlib.suppress(OSError, ValueError):
            os.pwrite(self._descriptor, _padded(record), 0)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._descriptor, 0)
        os.close(self._descriptor)  # closing drops the lock


def _padded(record: dict[str, object]) -> bytes:
    """Return ``record`` as JSON padded with spaces to :data:`RECORD_BYTES`.

    Raises:
        ValueError: the record does not fit.
    """
    data = json.dumps(record).encode()
    if len(data) > RECORD_BYTES:
        raise ValueError("the lock record is too long")
    return data.ljust(RECORD_BYTES)


def _already_running(path: Path, other: DaemonInfo | None) -> AlreadyRunning:
    return AlreadyRunning(
        f"another dropscribe daemon (pid {other.pid if other else '?'}) is running on "
        f"this job store ({path}); stop it first, or give this one its own paths.state"
    )


def refuse_if_running(path: Path) -> None:
    """Fail fast, before anything starts, when a daemon already holds ``path``.

    Raises:
        AlreadyRunning: another process holds the lock.
    """
    other = running_daemon(path)
    if other is not None:
        raise _already_running(path, other)


def running_daemon(path: Path) -> DaemonInfo | None:
    """Return the daemon holding ``path``, or None when no process holds it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(descriptor) or DaemonInfo(None, None, None)
        return None  # nobody holds it: whatever the file says is stale
    finally:
        os.close(descriptor)


def _read(descriptor: int) -> DaemonInfo | None:
    try:
        data = json.loads(os.pread(descriptor, RECORD_BYTES, 0).strip() or b"null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    notes = data.get("not_ready") or []
    return DaemonInfo(
        data.get("pid"),
        data.get("started_at"),
        data.get("version"),
        tuple(str(note) for note in notes) if isinstance(notes, list) else (),
    )
