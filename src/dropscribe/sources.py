"""The one way dropscribe opens a recording: never through a symbolic link.

Every reader of an inbox file (hashing at intake, decoding, uploading, retry,
``transcribe``) opens it here, so that a link dropped in the inbox can never
make the service read what it points to (``/etc/passwd``, another user's
files). The last component is opened with ``O_NOFOLLOW``; when the folder the
path must stay inside is given, every folder below it is opened the same way,
one ``openat`` at a time, so a linked sub-folder is refused too. The opened
descriptor is checked with ``fstat``: what is read is what was checked.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from dropscribe.errors import BadInput

HASH_CHUNK = 1024 * 1024

LINK = (
    "The file is a symbolic link, which dropscribe never follows; "
    "copy the recording itself into the inbox."
)
LINKED_FOLDER = (
    "A folder on the way to the file is a symbolic link, which dropscribe never follows; "
    "copy the recording itself into the inbox."
)
DIRECTORY = (
    "This is a directory with an audio file's name, not a recording; "
    "rename it (the files inside it are transcribed as usual)."
)
SPECIAL = (
    "This is not a regular file (a pipe, socket or device); "
    "copy the recording itself into the inbox."
)
#: The one message for a file that disappeared before dropscribe could read it.
VANISHED = "The file disappeared from the inbox before it could be transcribed; drop it again."
#: The one message for a file dropscribe may not read.
UNREADABLE = (
    "The file cannot be read (permission denied); make it readable by the user "
    "dropscribe runs as, then retry it."
)
#: The SHA-256 of no bytes: an empty file's, which is never transcribed.
EMPTY_SHA256 = hashlib.sha256().hexdigest()
EMPTY = "The file is empty (0 bytes); upload the recording again."


class Vanished(BadInput):
    """The file is gone: removed or moved away before it could be read."""

    def __init__(self, message: str = VANISHED) -> None:
        super().__init__(message)


def not_a_file(mode: int) -> BadInput:
    """Return the error for a path whose ``st_mode`` is not a regular file."""
    if stat.S_ISLNK(mode):
        return BadInput(LINK)
    if stat.S_ISDIR(mode):
        return BadInput(DIRECTORY)
    return BadInput(SPECIAL)


def stat_source(path: Path) -> os.stat_result:
    """Return the path's own status (``lstat``: a link is reported as a link).

    Raises:
        OSError: the path cannot be examined (``FileNotFoundError`` when it is gone).
    """
    return os.lstat(path)


def _open_below(root: Path, relative: Path) -> int:
    """Open ``root/relative`` walking one component at a time, none of them a link."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        *folders, name = relative.parts
        for part in folders:
            try:
                inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(
                    os.stat(part, dir_fd=folder, follow_symlinks=False).st_mode
                ):
                    raise BadInput(LINKED_FOLDER) from exc
                raise
            os.close(folder)
            folder = inner
        return _open_last(name, flags, folder)
    finally:
        os.close(folder)


def _open_last(name: str, flags: int, dir_fd: int | None) -> int:
    # O_NONBLOCK: opening a FIFO for reading must not hang the daemon until a writer comes.
    try:
        return os.open(name, flags | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadInput(LINK) from exc
        raise


def open_source(path: Path, inside: Path | None = None) -> BinaryIO:
    """Return ``path`` opened for binary reading, checked to be a regular file.

    With ``inside`` (the inbox), ``path`` must lie below it and no folder
    between them may be a link either.

    Raises:
        Vanished: the file (or a folder on its way) is gone.
        BadInput: the path is a link, a folder, a pipe, socket or device, or it may not
            be read (one sentence each, the same wherever it is opened).
        OSError: any other failure to open it (an I/O error, a share gone away).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if inside is not None:
            descriptor = _open_below(inside, path.relative_to(inside))
        else:
            descriptor = _open_last(os.fspath(path), flags, None)
    except FileNotFoundError as exc:
        raise Vanished() from exc
    except PermissionError as exc:
        raise BadInput(UNREADABLE) from exc
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise not_a_file(mode)
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def hash_source(path: Path, inside: Path | None = None) -> str:
    """Return the SHA-256 of the file's content, read through :func:`open_source`."""
    return hash_and_head(path, inside)[0]


def hash_and_head(path: Path, inside: Path | None = None, head: int = 4096) -> tuple[str, bytes]:
    """Return the SHA-256 of the file's content and its first ``head`` bytes, in one read."""
    digest = hashlib.sha256()
    first = b""
    with open_source(path, inside) as stream:
        while chunk := stream.read(HASH_CHUNK):
            if not first:
                first = chunk[:head]
            digest.update(chunk)
    return digest.hexdigest(), first
