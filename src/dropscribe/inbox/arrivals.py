"""What intake learns about one file before anything is recorded: its hash, or why not.

Examining reads the file and touches nothing else, so it can run outside the
store's transaction and a crash here leaves nothing to repair. Whatever goes
wrong with one file becomes that file's refusal; nothing raised here reaches
the main loop.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog

from dropscribe.errors import BadInput
from dropscribe.sources import EMPTY, EMPTY_SHA256, Vanished, hash_source, not_a_file

log = structlog.get_logger("dropscribe.inbox.intake")


@dataclass(frozen=True)
class Arrival:
    """A file ready to be recorded: its identity and, if it cannot be used, why."""

    relative: str
    size: int
    mtime: float
    sha256: str
    refusal: BadInput | None = None


def examine(inbox: Path, relative: str, info: os.stat_result, max_bytes: int) -> Arrival | None:
    """Return what ``relative`` (whose ``lstat`` is ``info``) will be recorded as, or None
    when it is not ready after all (gone, or a read error worth trying again later)."""
    try:
        return _examine(inbox, relative, info, max_bytes)
    except Exception as exc:  # one file's surprise must not stop the daemon
        log.exception("intake_error", file=relative)
        return Arrival(
            relative,
            info.st_size,
            info.st_mtime,
            "",
            BadInput(
                f"dropscribe could not take in this file ({type(exc).__name__}: {exc}); "
                "fix the cause or report it, then retry it."
            ),
        )


def _examine(inbox: Path, relative: str, info: os.stat_result, max_bytes: int) -> Arrival | None:
    size, mtime = info.st_size, info.st_mtime
    if not stat.S_ISREG(info.st_mode):
        return special(inbox, relative, info)
    if size == 0:
        return Arrival(
            relative,
            size,
            mtime,
            EMPTY_SHA256,
            BadInput(EMPTY),
        )
    if size > max_bytes:
        return Arrival(
            relative,
            size,
            mtime,
            "",
            BadInput(
                f"The file is {size / 2**20:.0f} MB, over the configured maximum of "
                f"{max_bytes / 2**20:.0f} MB (transcribe.max_file_bytes); "
                "raise the limit or split it."
            ),
        )
    try:
        sha256 = hash_source(inbox / relative, inside=inbox)
    except Vanished:
        return None
    except BadInput as exc:  # unreadable, or replaced by a link, a folder, a pipe
        return Arrival(relative, size, mtime, "", exc)
    except OSError as exc:
        log.warning("cannot_read", file=relative, error=str(exc))
        return None
    return Arrival(relative, size, mtime, sha256)


def special(inbox: Path, relative: str, info: os.stat_result) -> Arrival:
    """Return the refusal of a link, folder, pipe, socket or device with an audio name.

    A link's content is never read; its ``sha256`` is that of the link itself (the
    path it holds), so its error sidecar still identifies it with a valid hash.
    """
    sha256 = ""
    if stat.S_ISLNK(info.st_mode):
        sha256 = hashlib.sha256(os.readlink(os.fsencode(inbox / relative))).hexdigest()
    return Arrival(relative, info.st_size, info.st_mtime, sha256, not_a_file(info.st_mode))
