"""The one error tree of dropscribe.

    DropscribeError
    ├── ConfigError          bad configuration: exit code 2
    ├── BadInput             the file itself is unusable: permanent, no retry
    └── BackendError         the engine or the server failed
        ├── Retryable        try again later; counts an attempt (malformed answer, worker crash)
        │   ├── ServerDown     unreachable or cold: the backend pauses, no attempt counted
        │   ├── RateLimited    429: wait as asked (Retry-After), no attempt counted
        │   └── ServerTrouble  5xx, reset, timeout: no attempt counted within a time budget
        └── Permanent        the server refused this input (4xx), or a limit was hit

Beside the tree, :func:`local_fault` tells the machine's own trouble (a full or
read-only disk, an I/O error) from everything else: such work waits, it never fails.

Third-party exceptions are translated into these at the boundary, with
``raise X(...) from exc``. Every message is one sentence for the user: what
is wrong and what to do, without error numbers or exception names; those go
in ``detail`` (BadInput, BackendError), which the error sidecar and the log carry.

A server's words reach us through these errors, and a server may echo what
it was sent (a 401 page quoting the Authorization header): every
:class:`BackendError` scrubs its message and detail as it is made
(:func:`scrub`), so no secret dropscribe knows (:func:`remember_secret`, fed
by the configuration and the HTTP client) reaches a store, a sidecar, a
report or a log line from one. The log scrubs every line as well.
"""

from __future__ import annotations

import errno
import re
import sqlite3
import threading

REDACTED = "[redacted]"
#: Shorter values are no secret worth the name; replacing them would garble text.
MIN_SECRET_LENGTH = 6
#: A credential in the form a header carries it, whether we know its value or not
#: (long enough not to be a word: "bearer bonds" is left alone).
_CREDENTIAL = re.compile(r"\b([Bb]earer|Basic)(\s+)[A-Za-z0-9._~+/=-]{12,}")

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def remember_secret(secret: str | None) -> None:
    """Scrub ``secret`` from every error and log line from now on."""
    global _secrets
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret not in _secrets:
            # Longest first: a secret holding another is replaced whole.
            _secrets = tuple(sorted({*_secrets, secret}, key=len, reverse=True))


def scrub(text: str, *, credentials: bool = True) -> str:
    """Return ``text`` with every remembered secret replaced, and with ``credentials``
    every header-like credential too (not in a transcript: its words are the speaker's)."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if not credentials:
        return text
    return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


class DropscribeError(Exception):
    """Base of every error dropscribe raises on purpose."""


class ConfigError(DropscribeError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class BadInput(DropscribeError):
    """The input file cannot be transcribed as it is; ``detail``: what the decoder or
    the system said, for the error sidecar's ``detail`` and the log (not the sentence)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class BackendError(DropscribeError):
    """The backend failed; ``detail`` carries the server's own message."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(scrub(message))
        self.detail = None if detail is None else scrub(detail)


class Retryable(BackendError):
    """A transient failure: the job is tried again after a backoff."""

    def __init__(
        self, message: str, detail: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, detail)
        self.retry_after = retry_after


class ServerDown(Retryable):
    """The server cannot be reached or is still starting: wait without using up attempts."""


class RateLimited(Retryable):
    """The server asked us to wait (429): waiting is the whole answer, no attempt is spent."""


class ServerTrouble(Retryable):
    """The server failed on its side (5xx, a reset, a timeout), not because of the file:
    retried without spending attempts until ``transcribe.transient_budget_seconds`` pass."""


class Permanent(BackendError):
    """The backend refused this input: retrying would give the same answer."""


#: The errors of a disk that is full, read-only or failing: the machine is not ready,
#: the file is not at fault.
LOCAL_FAULTS = {
    errno.ENOSPC: "no space left",
    errno.EDQUOT: "over the disk quota",
    errno.EROFS: "read-only",
    errno.EIO: "an I/O error",
}
#: SQLite's primary result codes for the same: SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL.
_SQLITE_FAULTS = {8: "read-only", 10: "an I/O error", 13: "no space left"}
#: Their messages, for an error raised without its code.
_SQLITE_MESSAGES = {
    "readonly database": "read-only",
    "disk I/O error": "an I/O error",
    "database or disk is full": "no space left",
}


def local_fault(exc: BaseException) -> str | None:
    """Return what is wrong with the machine's disk when ``exc`` says so (``"no space
    left"``, ``"read-only"``, ...), else None; the cause chain is searched too."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain is short; this bounds a cycle
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno in LOCAL_FAULTS:
            return LOCAL_FAULTS[seen.errno]
        if isinstance(seen, sqlite3.Error):
            code = getattr(seen, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_FAULTS:
                return _SQLITE_FAULTS[code & 0xFF]
            for words, fault in _SQLITE_MESSAGES.items():
                if words in str(seen):
                    return fault
        seen = seen.__cause__ or seen.__context__
    return None
