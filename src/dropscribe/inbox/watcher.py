"""Native or polling file events from the inbox, plus full scans.

The watchdog callback only hands a path over (a thread-safe queue and a wake
event); the main loop does the work. ``auto`` mode polls where inotify sees
nothing: network and FUSE file systems.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from dropscribe.inbox import move_pairing
from dropscribe.inbox.filters import InboxFilter
from dropscribe.inbox.scanning import scan_inbox

log = structlog.get_logger("dropscribe.inbox.watcher")

#: File systems where inotify does not see changes made by other machines.
REMOTE_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "ceph",
        "glusterfs",
        "afs",
        "davfs",
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.davfs2",
        "fuse",
        "fuseblk",
        "virtiofs",
        "vboxsf",
        "vmhgfs",
        "fuse.vmhgfs-fuse",
        "lustre",
        "beegfs",
    }
)


def filesystem_type(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """Return the file system type of the mount that holds ``path``."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return None
    best, best_type = "", None
    target = str(path.resolve())
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def choose_mode(
    mode: str, inbox: Path, mounts_file: Path = Path("/proc/mounts")
) -> tuple[str, str]:
    """Return ("events" or "polling", why) for the configured mode."""
    if mode != "auto":
        return mode, "configured"
    fs_type = filesystem_type(inbox, mounts_file)
    if fs_type in REMOTE_FILESYSTEMS:
        return "polling", f"the inbox is on {fs_type}, where native events miss remote changes"
    return "events", f"the inbox is on {fs_type or 'a local file system'}"


#: What can make a file appear, change or go. A folder's own "modified" event comes
#: with every change inside it (three or four per dropped file) and says nothing the
#: file's own event does not; opening and reading say nothing at all. Left out at
#: the source, they never cross watchdog's queue and dispatch thread.
WANTED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


class _Handler(FileSystemEventHandler):
    def __init__(self, paths: queue.SimpleQueue[str], wake: threading.Event) -> None:
        self.paths = paths
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if path:
                self.paths.put(os.fsdecode(path))
        self.wake.set()


class InboxWatcher:
    """Watches the inbox recursively and lists its candidate files."""

    def __init__(
        self,
        inbox: Path,
        inbox_filter: InboxFilter,
        mode: str,
        poll_seconds: float,
        wake: threading.Event,
    ) -> None:
        self.inbox = inbox
        self.filter = inbox_filter
        self.paths: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.wake = wake
        self.configured = mode
        self.mode, self.reason = choose_mode(mode, inbox)
        self.poll_seconds = poll_seconds
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Start the observer; fall back to polling when native events cannot start."""
        log.info(
            "watchdog_move_pairing",
            applied=move_pairing.apply(),
            watchdog=move_pairing.watchdog_version(),
        )
        handler = _Handler(self.paths, self.wake)
        if self.mode == "events":
            try:
                observer: BaseObserver = Observer()
                observer.schedule(
                    handler, str(self.inbox), recursive=True, event_filter=WANTED_EVENTS
                )
                observer.start()
                self._observer = observer
            except OSError as exc:
                log.warning("native_events_unavailable", error=str(exc), mode="polling")
                self.mode, self.reason = "polling", f"native events failed: {exc}"
        if self.mode == "polling":
            observer = PollingObserver(timeout=self.poll_seconds)
            observer.schedule(handler, str(self.inbox), recursive=True, event_filter=WANTED_EVENTS)
            observer.start()
            self._observer = observer
        log.info("watching", inbox=str(self.inbox), mode=self.mode, why=self.reason)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)

    def restart(self) -> None:
        """Watch the inbox anew: the folder under its path is another one (a share back)."""
        self.stop()
        self._observer = None
        self.mode, self.reason = choose_mode(self.configured, self.inbox)
        self.start()

    def drain(self) -> set[str]:
        """Return the absolute paths reported since the last call."""
        found = set()
        while True:
            try:
                found.add(self.paths.get_nowait())
            except queue.Empty:
                return found

    def scan(self) -> Iterator[os.DirEntry[str]]:
        """Yield every entry under the inbox that the filter takes, never following a link.

        Directories, links and special files with an audio name are yielded too,
        so that intake can give them a clear error instead of silence.
        """
        return scan_inbox(self.inbox, self.filter)
