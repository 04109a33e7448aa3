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

Third-party exceptions are translated into these at the boundary, with
``raise X(...) from exc``. Every message is one sentence for the user: what
is wrong and what to do, without error numbers or exception names; those go
in ``detail`` (BadInput, BackendError), which the error sidecar and the log carry.
"""

from __future__ import annotations


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
        super().__init__(message)
        self.detail = detail


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
