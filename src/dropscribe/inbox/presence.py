"""Whether the inbox folder is still the one being watched: a share can go away.

An NFS or SMB share that is unmounted leaves an empty local folder under the same
path; one that is mounted again, or a folder put in place of the old one, is
another device or inode. Either way the watch on the old folder sees nothing
more. The inbox is *unavailable* when its path is gone or not a folder, or when it
is another folder than the one watched and empty (a share that went away) while
jobs wait for their files; another folder with files in it is taken as the inbox
(a share back, or a new folder): the daemon watches it anew and rescans it.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

UNAVAILABLE = (
    "The inbox {inbox} is unavailable ({why}); the jobs waiting for its files are held, "
    "not failed, and go on by themselves once it is back."
)

Identity = tuple[int, int]


@dataclass(frozen=True)
class Look:
    """What one look at the inbox found: why it is unavailable (None: it is fine), and
    whether it is another folder than before, to be watched anew and rescanned."""

    problem: str | None
    renewed: bool


def _identity(inbox: Path) -> tuple[Identity | None, bool]:
    """Return the inbox's (st_dev, st_ino), None when it is not a folder; and whether it
    is empty."""
    try:
        info = os.stat(inbox)
    except OSError:
        return None, True
    if not stat.S_ISDIR(info.st_mode):
        return None, True
    try:
        with os.scandir(inbox) as entries:
            empty = next(entries, None) is None
    except OSError:
        return None, True
    return (info.st_dev, info.st_ino), empty


class InboxPresence:
    """Remembers the inbox's identity; :meth:`look` compares it with what is there now."""

    def __init__(self, inbox: Path, waiting: Callable[[], int]) -> None:
        self.inbox = inbox
        #: How many jobs wait for their files in the inbox (queued or in flight).
        self.waiting = waiting
        self._lock = threading.Lock()
        identity, empty = _identity(inbox)
        # An empty folder at start while jobs wait is no proof of anything: unknown.
        self._known: Identity | None = None if empty and waiting() else identity
        self._away = False

    def look(self) -> Look:
        """Look at the inbox now; safe from any thread."""
        identity, empty = _identity(self.inbox)
        with self._lock:
            if identity is None:
                return self._unavailable("it is gone or not a folder")
            if identity == self._known:
                renewed, self._away = self._away, False
                return Look(None, renewed)
            if empty and (self._known is not None or self.waiting()):
                return self._unavailable("an empty folder where the share or disk was")
            self._known, self._away = identity, False
            return Look(None, True)

    def _unavailable(self, why: str) -> Look:
        self._away = True
        return Look(UNAVAILABLE.format(inbox=self.inbox, why=why), False)
