"""Sidecars in the outbox, written atomically, and what happens to originals.

Every file is written to a temporary name in its own directory, flushed,
fsynced and renamed over the target, so a reader of the outbox never sees a
partial sidecar. Temporary names start with ``.dropscribe-`` and end with
``.tmp``; any left by a crash are removed at start-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dropscribe.formats import RENDERERS

TEMP_PREFIX = ".dropscribe-"
TEMP_SUFFIX = ".tmp"
ERROR_SUFFIX = ".error.json"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that it appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Outbox:
    """The sidecars of one outbox directory."""

    def __init__(self, root: Path, formats: Sequence[str]) -> None:
        self.root = root
        self.formats = formats

    def paths_for(self, output_name: str) -> dict[str, Path]:
        """Return the sidecar path of every selected format, by format."""
        return {fmt: self.root / f"{output_name}.{fmt}" for fmt in self.formats}

    def error_path(self, output_name: str) -> Path:
        return self.root / f"{output_name}{ERROR_SUFFIX}"

    def write_transcript(self, output_name: str, document: dict[str, Any]) -> list[Path]:
        """Write every selected sidecar of ``document``; drop a stale error sidecar."""
        written = []
        for fmt, path in self.paths_for(output_name).items():
            if fmt == "json":
                text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            else:
                text = RENDERERS[fmt](document)
            atomic_write(path, text)
            written.append(path)
        with contextlib.suppress(FileNotFoundError):
            self.error_path(output_name).unlink()
        _fsync_directory(self.error_path(output_name).parent)
        return written

    def write_error(self, output_name: str, report: dict[str, Any]) -> Path:
        """Write ``<stem>.error.json``; drop sidecars of an earlier success for this stem."""
        path = self.error_path(output_name)
        atomic_write(path, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        for fmt in RENDERERS.keys() | {"json"}:
            with contextlib.suppress(FileNotFoundError):
                (self.root / f"{output_name}.{fmt}").unlink()
        _fsync_directory(path.parent)
        return path

    def remove_temporaries(self) -> int:
        """Remove temporary files a crash left behind; return how many."""
        removed = 0
        if not self.root.exists():
            return 0
        for path in self.root.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        return removed


def free_destination(path: Path) -> Path:
    """Return ``path``, or ``name (2).ext`` and so on when something is already there."""
    candidate = path
    number = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        number += 1
    return candidate


def move_original(source: Path, destination_root: Path, relative_path: str) -> Path | None:
    """Move ``source`` under ``destination_root``, mirroring ``relative_path``.

    Returns the new path, or None when the source is already gone (a crash
    after the move and before the job was marked done).

    On one file system the move is a hard link and an unlink, not a rename: a
    rename out of a watched folder is an unpaired "moved from" event, which
    watchdog holds back for half a second and searches linearly, stalling the
    events behind it when many files leave at once. A crash between the link
    and the unlink is repaired on the next attempt.
    """
    if not os.path.lexists(source):
        return None
    wanted = destination_root / relative_path
    wanted.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(wanted) and not source.is_symlink() and os.path.samefile(source, wanted):
        source.unlink()  # linked before a crash: only the unlink was missing
        return wanted
    destination = free_destination(wanted)
    if source.is_symlink():
        os.rename(source, destination)
        return destination
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        shutil.move(source, destination)  # another file system, or no hard links there
    else:
        source.unlink()
    return destination
