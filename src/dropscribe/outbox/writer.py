"""Sidecars in the outbox, written atomically, and what happens to originals.

Every file is written to a temporary name in its own directory, flushed,
fsynced and renamed over the target, so a reader of the outbox never sees a
partial sidecar. Temporary names start with ``.dropscribe-`` and end with
``.tmp``; any left by a crash are removed at start-up.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import itertools
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dropscribe.config import Settings, TranscribeSettings
from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.formats import BINARY_RENDERERS, RENDERERS
from dropscribe.transcript import Document

TEMP_PREFIX = ".dropscribe-"
TEMP_SUFFIX = ".tmp"
ERROR_SUFFIX = ".error.json"


_temporary_names = itertools.count()


def _temporary_for(path: Path) -> Path:
    # Unique within this process; a crash's leftovers are removed at the next start.
    return path.parent / f"{TEMP_PREFIX}{os.getpid()}-{next(_temporary_names)}{TEMP_SUFFIX}"


def write_durably(files: Sequence[tuple[Path, bytes]]) -> list[BaseException | None]:
    """Write every file so that it appears whole or not at all, and survives a crash.

    All temporaries are written first and flushed one after another: the first
    flush commits the file system's journal for all of them, so the rest cost
    little (five flushes per finished file were most of the kernel's share of
    the pipeline). Then each is renamed over its target, and each directory is
    flushed once. Returns, per file, the error that stopped it or None; one
    file's failure (a full disk, a bad name) leaves the others written.
    """
    errors: list[BaseException | None] = [None] * len(files)
    written = _write_temporaries(files, errors)
    for index, temporary, descriptor in written:
        try:
            os.fsync(descriptor)
        except OSError as exc:
            errors[index] = _named(exc, temporary)
        finally:
            os.close(descriptor)
    directories: set[Path] = set()
    for index, temporary, _ in written:
        if errors[index] is None:
            try:
                os.replace(temporary, files[index][0])
                directories.add(temporary.parent)
                continue
            except OSError as exc:
                errors[index] = exc
        _remove(temporary)
    for directory in directories:
        _fsync_directory(directory)
    return errors


def _write_temporaries(
    files: Sequence[tuple[Path, bytes]], errors: list[BaseException | None]
) -> list[tuple[int, Path, int]]:
    """Write each file's content to a temporary beside it, still open and not flushed;
    return (index, temporary, descriptor) of those written, noting the others' errors."""
    written: list[tuple[int, Path, int]] = []
    made: set[Path] = set()
    for index, (path, data) in enumerate(files):
        temporary = _temporary_for(path)
        try:
            if path.parent not in made:  # four sidecars share a folder: one mkdir
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            # 0o644 (less the umask): sidecars are for reading by other people's tools.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            errors[index] = exc
            continue
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
        except OSError as exc:
            errors[index] = _named(exc, temporary)
            os.close(descriptor)
            _remove(temporary)
            continue
        written.append((index, temporary, descriptor))
    return written


def _named(exc: OSError, path: Path) -> OSError:
    """Return ``exc`` naming the file it is about (a failed ``write`` names none), so
    that the log says which folder's disk is full."""
    if exc.filename is None:
        exc.filename = str(path)
    return exc


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that it appears whole or not at all."""
    (error,) = write_durably([(path, text.encode("utf-8"))])
    if error is not None:
        raise error


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class Sidecars:
    """Which sidecars to write and how to cut their cues: one snapshot of the settings,
    read once per batch so a reload never mixes new formats with old cue rules."""

    formats: tuple[str, ...]
    cue_rules: CueRules = field(default_factory=CueRules)
    #: (folder, formats) of the folders that choose their own (``[folders."x"] formats``).
    folder_formats: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_settings(cls, settings: TranscribeSettings) -> Sidecars:
        return cls(tuple(settings.formats), CueRules.from_settings(settings))

    @classmethod
    def of(cls, settings: Settings) -> Sidecars:
        """The sidecars of ``settings``, the folders' own formats included."""
        chosen = tuple(
            (folder, tuple(override.formats))
            for folder, override in sorted(settings.folders.items())
            if override.formats is not None
        )
        return replace(cls.from_settings(settings.transcribe), folder_formats=chosen)

    def formats_for(self, source_path: str) -> tuple[str, ...]:
        """Return the formats for a recording at ``source_path`` in the inbox: those of the
        innermost folder that chooses some, else ``formats``."""
        chosen = dict(self.folder_formats)
        parts = source_path.split("/")[:-1]
        for depth in range(len(parts), 0, -1):
            if (found := chosen.get("/".join(parts[:depth]))) is not None:
                return found
        return self.formats


class Outbox:
    """The sidecars of one outbox directory.

    Given ``formats`` (and ``cue_rules``), it always writes those; given ``current``
    instead, it asks it for the sidecars in force at each batch (the daemon, whose
    settings a reload swaps).
    """

    def __init__(
        self,
        root: Path,
        formats: Sequence[str] = (),
        cue_rules: CueRules | None = None,
        *,
        current: Callable[[], Sidecars] | None = None,
    ) -> None:
        self.root = root
        fixed = Sidecars(tuple(formats), cue_rules or CueRules())
        self.current: Callable[[], Sidecars] = current or (lambda: fixed)

    def paths_for(
        self, output_name: str, sidecars: Sidecars | None = None, source_path: str = ""
    ) -> dict[str, Path]:
        """Return the sidecar path of every format selected for ``source_path``, by format."""
        formats = (sidecars or self.current()).formats_for(source_path)
        return {fmt: self.root / f"{output_name}.{fmt}" for fmt in formats}

    def error_path(self, output_name: str) -> Path:
        return self.root / f"{output_name}{ERROR_SUFFIX}"

    def render_transcript(
        self, output_name: str, document: Document, sidecars: Sidecars | None = None
    ) -> list[tuple[Path, bytes]]:
        """Return every selected sidecar of ``document`` with its path."""
        chosen = sidecars or self.current()
        rendered = []
        source = document["source"]["path"]
        for fmt, path in self.paths_for(output_name, chosen, source).items():
            if fmt == "json":
                # Strict JSON: a NaN would make the file unreadable to strict parsers.
                text = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
                data = text.encode()
            elif fmt in BINARY_RENDERERS:
                data = BINARY_RENDERERS[fmt](document, chosen.cue_rules)
            else:
                data = RENDERERS[fmt](document, chosen.cue_rules).encode("utf-8")
            rendered.append((path, data))
        return rendered

    def write_transcripts(
        self, transcripts: Sequence[tuple[str, Document]]
    ) -> list[list[Path] | BaseException]:
        """Write the sidecars of several transcripts together (one journal commit for
        all); drop their stale error sidecars. Returns per transcript its sidecars, or
        the error that kept them from being written whole."""
        outcomes: list[list[Path] | BaseException] = []
        files: list[tuple[Path, bytes]] = []
        owners: list[int] = []
        sidecars = self.current()  # once: the whole batch is written by one set of settings
        for number, (output_name, document) in enumerate(transcripts):
            try:
                rendered = self.render_transcript(output_name, document, sidecars)
            except Exception as exc:  # a renderer's bug fails this job, not the batch
                outcomes.append(exc)
                continue
            outcomes.append([path for path, _ in rendered])
            files += rendered
            owners += [number] * len(rendered)
        for owner, error in zip(owners, write_durably(files), strict=True):
            if error is not None and not isinstance(outcomes[owner], BaseException):
                outcomes[owner] = error
        emptied: set[Path] = set()
        for (output_name, _), outcome in zip(transcripts, outcomes, strict=True):
            stale = self.error_path(output_name)
            if not isinstance(outcome, BaseException) and os.path.lexists(stale):
                _remove(stale)
                emptied.add(stale.parent)
        for directory in emptied:
            _fsync_directory(directory)
        return outcomes

    def write_transcript(self, output_name: str, document: Document) -> list[Path]:
        """Write every selected sidecar of ``document``; drop a stale error sidecar."""
        (outcome,) = self.write_transcripts([(output_name, document)])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def write_error(self, output_name: str, report: dict[str, Any]) -> Path:
        """Write ``<stem>.error.json``; drop sidecars of an earlier success for this stem."""
        path = self.error_path(output_name)
        atomic_write(path, json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
        for fmt in RENDERERS.keys() | BINARY_RENDERERS.keys() | {"json"}:
            _remove(self.root / f"{output_name}.{fmt}")
        _fsync_directory(path.parent)
        return path

    def remove_temporaries(self, *others: Path) -> int:
        """Remove temporary files a crash left behind here and under ``others`` (the
        folders originals are copied into: a copy to another file system is written
        under a temporary name too); return how many."""
        removed = 0
        for root in dict.fromkeys((self.root, *others)):
            if not root.is_dir():
                continue
            for path in root.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
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
    if os.path.lexists(wanted) and not source.is_symlink() and _same_copy(source, wanted):
        source.unlink()  # copied before, but the source could not be removed then
        return wanted
    destination = free_destination(wanted)
    if source.is_symlink():
        os.rename(source, destination)
        return destination
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise  # a full or read-only archive: the caller waits and tries again
        _copy_durably(source, destination)  # another file system, or no hard links there
    source.unlink()
    return destination


def _same_copy(source: Path, copy: Path) -> bool:
    """Return whether ``copy`` is a whole copy of ``source`` (same size, same bytes)."""
    try:
        if not copy.is_file() or copy.is_symlink():
            return False
        return source.stat().st_size == copy.stat().st_size and filecmp.cmp(
            source, copy, shallow=False
        )
    except OSError:
        return False


#: What ``link`` answers across file systems, or where hard links do not exist.
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})


def _copy_durably(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` so that it is whole there, and survives a
    crash, before the caller removes the source: a temporary beside it, fsynced, then
    renamed, then its folder fsynced. A failure (a full archive) leaves no partial copy
    and the source in place.
    """
    temporary = _temporary_for(destination)
    try:
        shutil.copyfile(source, temporary, follow_symlinks=False)
        shutil.copystat(source, temporary, follow_symlinks=False)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.rename(temporary, destination)
    except OSError as exc:
        _remove(temporary)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            exc.filename = str(temporary)  # the copy's side is full, not the source's
        raise
    except BaseException:
        _remove(temporary)
        raise
    _fsync_directory(destination.parent)
