"""What to do with a job whose try failed: retry when, fail, or pause its backend.

A pure function of plain values (the job's history, the error, the time, the
rules), so every case is tested without a server or a clock. Attempts are for
what the file itself causes; the server's own trouble does not spend them:

    BadInput, Permanent         -> Fail
    ServerDown (unreachable)    -> Pause the backend; no attempt spent
    RateLimited (429)           -> Retry after Retry-After; no attempt spent
    ServerTrouble (5xx, resets, timeouts)
                                -> Retry, no attempt spent, until the transient budget
                                   has passed since the file's trouble began; then as below
    any other Retryable         -> Retry with backoff, or Fail once attempts are used up

:func:`carry_out` is the one executor of a decision, for jobs, chunks and
``dropscribe transcribe`` alike: the attempts to store (a try that spends none
is given back), when to try again, the error to record (the give-up sentence
once attempts are used up) and the history for the next failure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dropscribe.config import TranscribeSettings
from dropscribe.errors import (
    BackendError,
    BadInput,
    DropscribeError,
    Permanent,
    RateLimited,
    Retryable,
    ServerDown,
    ServerTrouble,
)

#: The longest wait between two tries of a backend that is down: a server that
#: comes back is noticed within a minute.
DOWN_CHECK_MAX_SECONDS = 60.0


@dataclass(frozen=True)
class Retry:
    """Queue the job again at ``at``; ``spends_attempt`` False gives the attempt back."""

    at: float
    spends_attempt: bool


@dataclass(frozen=True)
class Fail:
    """Fail the job for good; ``gave_up`` when its attempts were used up."""

    gave_up: bool = False


@dataclass(frozen=True)
class Pause:
    """The backend cannot be reached: it takes no jobs until ``until``; this one waits
    for then without spending an attempt."""

    until: float


Decision = Retry | Fail | Pause


@dataclass(frozen=True)
class JobHistory:
    """What the policy needs to know of a job."""

    #: Attempts counted so far, the one that just failed included.
    attempts: int
    #: When the file's current run of server trouble began (None: it is not in one).
    troubled_since: float | None = None
    #: Retries in a row that spent no attempt (their backoff grows with it).
    waits: int = 0
    #: The backend's failures in a row to be reached.
    backend_downs: int = 0


@dataclass(frozen=True)
class RetryRules:
    max_attempts: int = 3
    base_seconds: float = 2.0
    max_seconds: float = 300.0
    transient_budget_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, transcribe: TranscribeSettings) -> RetryRules:
        return cls(
            transcribe.max_attempts,
            transcribe.retry_base_seconds,
            transcribe.retry_max_seconds,
            transcribe.transient_budget_seconds,
        )


def backoff_delay(number: int, base: float, cap: float, jitter: float) -> float:
    """Return the wait before retry ``number`` (1, 2, ...): exponential, capped, jittered.

    ``jitter`` in [0, 1] picks a point in the upper half of the ceiling ("equal
    jitter"), so retries never bunch at zero.
    """
    ceiling = min(cap, base * 2 ** max(0, number - 1))
    return float(ceiling / 2 + jitter * ceiling / 2)


def decide(
    job: JobHistory, error: DropscribeError, now: float, rules: RetryRules, jitter: float = 0.5
) -> Decision:
    """Return what becomes of a job whose try failed with ``error`` at ``now``."""
    if not isinstance(error, Retryable):
        return Fail()
    asked = error.retry_after or 0.0
    if isinstance(error, ServerDown):
        delay = min(
            rules.max_seconds,
            DOWN_CHECK_MAX_SECONDS,
            rules.base_seconds * 2 ** max(0, job.backend_downs),
        )
        return Pause(now + max(delay, asked))
    waited = backoff_delay(job.waits + 1, rules.base_seconds, rules.max_seconds, jitter)
    if isinstance(error, RateLimited):
        # The server said how long; without a Retry-After, back off as for trouble.
        return Retry(now + (error.retry_after if error.retry_after is not None else waited), False)
    if isinstance(error, ServerTrouble):
        since = now if job.troubled_since is None else job.troubled_since
        if now - since < rules.transient_budget_seconds:
            return Retry(now + max(waited, asked), spends_attempt=False)
    if job.attempts >= rules.max_attempts:
        return Fail(gave_up=True)
    delay = backoff_delay(job.attempts, rules.base_seconds, rules.max_seconds, jitter)
    return Retry(now + max(delay, asked), spends_attempt=True)


def give_back(attempts: int) -> int:
    """Return the attempts once the try in progress is not counted (it was not the file's
    fault: a restart, a fallback, a server that was down)."""
    return max(0, attempts - 1)


def after(job: JobHistory, error: DropscribeError, decision: Decision, now: float) -> JobHistory:
    """Return the job's history once ``decision`` is carried out (for its next failure)."""
    if isinstance(decision, Pause):
        return replace(job, attempts=give_back(job.attempts), backend_downs=job.backend_downs + 1)
    if isinstance(decision, Fail):
        return job
    if decision.spends_attempt:
        return replace(job, waits=0)
    since = job.troubled_since
    if since is None and isinstance(error, ServerTrouble):
        since = now
    return replace(job, attempts=give_back(job.attempts), waits=job.waits + 1, troubled_since=since)


def gave_up(error: DropscribeError, attempts: int, where: str = "") -> DropscribeError:
    """Return the error a file (or ``where``: a part of it) fails with for good: the one
    sentence, the detail kept."""
    detail = error.detail if isinstance(error, BackendError | BadInput) else None
    tries = f" after {attempts} attempts" if isinstance(error, Retryable) else ""
    if where:
        message = f"{where} failed{tries}: {error}"
    elif tries:
        message = f"Gave up{tries}: {error}"
    else:
        return error
    if isinstance(error, BadInput):
        return BadInput(message, detail)
    return Permanent(message, detail=detail)


@dataclass(frozen=True)
class Step:
    """A decision carried out on plain values."""

    decision: Decision
    #: The attempts to store: the one just spent, or given back.
    attempts: int
    #: When to try again (a pause's end for a backend that is down); None: failed for good.
    at: float | None
    #: What is recorded: the error, or the give-up sentence once attempts are used up.
    error: DropscribeError
    #: The history for the next failure (unchanged once failed).
    history: JobHistory

    def store_fields(self) -> dict[str, Any]:
        """Return the fields of the job or chunk row that record this step."""
        detail = self.error.detail if isinstance(self.error, BackendError | BadInput) else None
        fields: dict[str, Any] = {"attempts": self.attempts, "error": str(self.error)}
        if self.at is not None:
            fields.update(next_attempt_at=self.at, future=None, error_detail=detail)
        return fields


def carry_out(
    job: JobHistory,
    error: DropscribeError,
    now: float,
    rules: RetryRules,
    jitter: float = 0.5,
    *,
    where: str = "",
) -> Step:
    """Return what becomes of a try that failed with ``error``, carried out: the one
    executor of :func:`decide` (``where`` names a part of the file, for its sentence)."""
    decision = decide(job, error, now, rules, jitter)
    if isinstance(decision, Fail):
        final = gave_up(error, job.attempts, where) if decision.gave_up or where else error
        return Step(decision, job.attempts, None, final, job)
    history = after(job, error, decision, now)
    if isinstance(decision, Pause):
        return Step(decision, give_back(job.attempts), decision.until, error, history)
    spent = job.attempts if decision.spends_attempt else give_back(job.attempts)
    return Step(decision, spent, decision.at, error, history)
