"""The daemon's look at its machine, once a loop: free space and the inbox's presence.

Below ``service.min_free_mb`` on the outbox's or the store's file system the daemon
takes no new work (jobs in hand still finish: their writes are small), so that no
write fails half-way; the inbox's identity is checked (:mod:`dropscribe.inbox.presence`).
What holds work back goes into the :class:`~dropscribe.jobs.readiness.Readiness`
that the job threads read, the systemd status text and the daemon's lock file,
which ``dropscribe status`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dropscribe.config import PathsSettings, Settings
from dropscribe.inbox.presence import InboxPresence
from dropscribe.jobs.readiness import Readiness
from dropscribe.service.daemon_lock import DaemonLock

LOW_SPACE = (
    "Free space is low on the {what} ({free} MB left, service.min_free_mb is {limit}); "
    "no new work is taken until more is free."
)


def free_bytes(folder: Path) -> int | None:
    """Return the bytes an unprivileged writer may still use under ``folder``."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


def watched_folders(paths: PathsSettings) -> dict[str, Path]:
    """Return the folders whose free space is watched, by the name a user knows."""
    return {"outbox": paths.outbox, "store": paths.state.parent}


def read_only_folders(paths: PathsSettings) -> list[str]:
    """Return a sentence for each of dropscribe's folders on a file system mounted
    read-only now (``status`` says it even when the daemon cannot write its note)."""
    folders = {"outbox": paths.outbox, "archive": paths.archive, "failed folder": paths.failed}
    folders["job store"] = paths.state.parent
    found = []
    for name, folder in folders.items():
        try:
            read_only = folder is not None and bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except OSError:
            continue
        if read_only:
            found.append(
                f"The {name} {folder} is on a read-only file system; remount it read-write "
                "(the work waits until then)."
            )
    return found


def space_problem(free: dict[str, int | None], min_free_mb: float) -> str | None:
    """Return the sentence saying which file system is below the limit, or None."""
    if min_free_mb <= 0:
        return None
    for what, left in free.items():
        if left is not None and left < min_free_mb * 2**20:
            name = "outbox's file system" if what == "outbox" else "job store's file system"
            return LOW_SPACE.format(what=name, free=left // 2**20, limit=min_free_mb)
    return None


class MachineWatch:
    """Looks at free space and the inbox for the main loop; notes what holds work back."""

    def __init__(
        self,
        readiness: Readiness,
        presence: InboxPresence,
        current: Callable[[], Settings],
        lock: DaemonLock | None = None,
    ) -> None:
        self.readiness = readiness
        self.presence = presence
        self.current = current
        #: Where ``status`` reads what holds work back (set once the daemon holds it).
        self.lock = lock
        #: Free bytes by watched folder at the last look (for the metrics).
        self.free: dict[str, int | None] = {}
        self._noted: list[str] = []
        readiness.inbox_probe = lambda: presence.look().problem

    def look(self) -> bool:
        """Look at the machine now; return True when the inbox is another folder than
        before or back after an absence: it must be watched anew and rescanned."""
        settings = self.current()
        self.free = {name: free_bytes(f) for name, f in watched_folders(settings.paths).items()}
        self.readiness.set_low_space(space_problem(self.free, settings.service.min_free_mb))
        seen = self.presence.look()
        self.readiness.set_inbox(seen.problem)
        notes = self.readiness.problems()
        if notes != self._noted and self.lock is not None:
            self.lock.note(notes)
            self._noted = notes
        return seen.renewed

    def status(self, line: str) -> str:
        """Return the systemd status text: what holds work back first, then ``line``."""
        notes = self.readiness.problems()
        return f"not ready: {notes[0]} ({line})" if notes else line
