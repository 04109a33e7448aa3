"""The full scan of the inbox, for the watcher's safety net and for ``status``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import structlog

from dropscribe.inbox.filters import InboxFilter

log = structlog.get_logger("dropscribe.inbox.watcher")


def scan_inbox(inbox: Path, inbox_filter: InboxFilter) -> Iterator[os.DirEntry[str]]:
    """Yield every entry under ``inbox`` that the filter takes, never following a link.

    Directories, links and special files with an audio name are yielded too,
    so that intake can give them a clear error instead of silence.
    """
    root = str(inbox)
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            log.warning("cannot_list_directory", directory=directory, error=str(exc))
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False) and not inbox_filter.ignores_folder(entry.name):
                stack.append(entry.path)
            if inbox_filter(entry.path[len(root) + 1 :]):
                yield entry


def not_taken_in(
    inbox: Path, inbox_filter: InboxFilter, known: dict[str, tuple[int, float]]
) -> list[str]:
    """Return the files in the inbox that no job covers yet (by path, size and mtime):
    still settling, or waiting for a daemon to take them in; in the order of their names."""
    if not inbox.is_dir():
        return []  # not created yet: nothing dropped
    waiting = []
    root = len(str(inbox)) + 1
    for entry in scan_inbox(inbox, inbox_filter):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone since it was listed
        relative = entry.path[root:]
        if known.get(relative) != (info.st_size, info.st_mtime):
            waiting.append(relative)
    return sorted(waiting)
