"""When the local engine gives up on a worker: time and memory limits, as plain decisions.

Handed the clock and the readings; the backend kills the worker and settles
its jobs (pool.WorkerPool._enforce_limits).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Time allowed to decode one file before the worker counts as hung.
DECODE_LIMIT_SECONDS = 300.0


@dataclass(frozen=True)
class Breach:
    """Why the worker must go; ``culprit_only``: only the job checked is charged."""

    log_event: str
    reason: str
    culprit_only: bool


def breached_limit(
    *,
    now: float,
    submitted: float,
    started: float | None,
    duration: float | None,
    worker_busy: bool,
    timeout_seconds: float,
    memory_mb: float,
    max_memory_mb: int,
) -> Breach | None:
    """Return the limit a job (and its worker) has passed, or None.

    A job being transcribed may take ``timeout_seconds`` (0: three times its
    duration plus a minute); a worker that transcribes nothing may spend
    DECODE_LIMIT_SECONDS decoding one file; a worker may hold ``max_memory_mb``.
    """
    if started is not None:
        allowed = timeout_seconds or 3 * (duration or 0) + 60
        if now - started > allowed:
            return Breach(
                "worker_timeout",
                f"Transcription took longer than {allowed:.0f} s; the worker was stopped "
                "(raise backends.local.timeout_seconds for very slow machines).",
                culprit_only=True,
            )
    elif not worker_busy and now - submitted > DECODE_LIMIT_SECONDS:
        return Breach(
            "worker_decode_timeout",
            f"Decoding the file took longer than {DECODE_LIMIT_SECONDS:.0f} s; "
            "the worker was stopped.",
            culprit_only=False,
        )
    if max_memory_mb and memory_mb > max_memory_mb:
        return Breach(
            "worker_memory_limit",
            f"The worker used more than {max_memory_mb} MB of memory "
            "(backends.local.max_memory_mb) and was stopped.",
            culprit_only=False,
        )
    return None
