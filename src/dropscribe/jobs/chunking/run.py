"""The chunks of one job in flight: started within the backend's slots, awaited, retried.

See :mod:`dropscribe.jobs.chunking.chunks` for the whole story and the fairness rule.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import structlog

from dropscribe.backends.base import Backend, Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.config import RemoteSettings, TranscribeSettings
from dropscribe.errors import BackendError, BadInput, Permanent, Retryable
from dropscribe.jobs.chunking.feed import ChunkFeed, Incoming
from dropscribe.jobs.retry_policy import JobHistory, Pause, Retry, RetryRules, after, decide
from dropscribe.jobs.runner import await_outcome
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.store.chunks import Chunk
from dropscribe.transcript import Transcription, clock_time

log = structlog.get_logger("dropscribe.jobs.chunks")

#: How often the job's thread looks for a slot to borrow while its chunks run.
LEND_CHECK_SECONDS = 0.5


class ChunkProgress(Protocol):
    """Told how a job's chunks go (``dropscribe transcribe`` draws it); called from threads."""

    def planned(self, chunks: int, upload_bytes: int) -> None:
        """The chunks still to send, and their bytes."""

    def uploaded(self, size: int) -> None:
        """``size`` more bytes went out."""

    def waiting(self) -> None:
        """A poll found a chunk still in the works."""

    def chunk_done(self) -> None:
        """One more chunk's result is saved."""


class SlotLender(Protocol):
    def borrow_slot(self, backend: str) -> bool:
        """Take one more of ``backend``'s slots if it is idle and no other file is due."""

    def return_slot(self, backend: str) -> None:
        """Give a borrowed slot back."""


def _label(chunk: Chunk) -> str:
    """The chunk's time range, as :attr:`uploads.Part.label` writes a part's."""
    return f"{clock_time(chunk.start)}-{clock_time(chunk.end)}"


class ChunkRun:
    """The chunks of one job in flight: started within the slots, awaited, retried."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        stopping: threading.Event,
        lender: SlotLender,
        rules: TranscribeSettings,
        job: Job,
        backend: Backend,
        section: RemoteSettings,
        workdir: Path,
        chunks: list[Chunk],
        progress: ChunkProgress | None = None,
        feed: ChunkFeed | None = None,
    ) -> None:
        self.progress = progress
        #: Chunks still being prepared come from the feed (None: all are in ``chunks``).
        self.incoming = Incoming(chunks, feed, progress.planned if progress else None)
        self.store = store
        self.clock = clock
        self.stopping = stopping
        self.lender = lender
        self.rules = rules
        self.job = job
        self.backend = backend
        self.section = section
        self.workdir = workdir
        self.todo: list[tuple[float, Chunk]] = [(0.0, c) for c in chunks if c.state != "done"]
        self.failure: BackendError | BadInput | None = None
        self.stopped = False
        #: Slots borrowed from the backend's idle ones, beyond the job's own.
        self.borrowed = 0
        self.rng = random.Random()
        #: Each chunk's history of failures, for the retry policy (kept while the job runs).
        self.histories: dict[int, JobHistory] = {}

    def run(self) -> Outcome | None:
        """Return Done once every chunk's result is saved (the results stay in the store),
        Failed when one failed for good or the server is down, None when told to stop."""
        running: dict[Any, Chunk] = {}
        with ThreadPoolExecutor(self.section.concurrency, thread_name_prefix="chunk") as pool:
            while True:
                self._take_arrivals()
                now = self.clock()
                self._start_due(pool, running, now)
                if not running:
                    if not self._more_to_do() and not self._expecting():
                        break
                    self._idle(now)
                    continue
                arrival = self.incoming.signals() if self._expecting() else []
                finished, _ = wait(
                    [*running, *arrival], timeout=LEND_CHECK_SECONDS, return_when=FIRST_COMPLETED
                )
                for done in finished:
                    if done in running:
                        self._give_back_a_slot()
                        self._settle(running.pop(done), done.result())
        return self._outcome()

    def _more_to_do(self) -> bool:
        return bool(self.todo) and self.failure is None and not self.stopping.is_set()

    def _expecting(self) -> bool:
        """Whether chunks still being prepared are to be waited for."""
        return self.incoming.expecting and self.failure is None and not self.stopping.is_set()

    def _idle(self, now: float) -> None:
        """Wait, with nothing running, for the next chunk due or prepared (or a stop)."""
        delay = min((due for due, _ in self.todo), default=now + LEND_CHECK_SECONDS) - now
        if self._expecting():
            wait(self.incoming.signals(), timeout=min(max(0.0, delay), LEND_CHECK_SECONDS))
        else:
            self.stopping.wait(max(0.0, delay))

    def _take_arrivals(self) -> None:
        """Queue the chunks the preparation has written since the last look."""
        self.todo.extend((0.0, chunk) for chunk in self.incoming.arrived())
        if self.incoming.error is not None and self.failure is None:
            self.failure = self.incoming.error

    def _start_due(self, pool: ThreadPoolExecutor, running: dict[Any, Chunk], now: float) -> None:
        """Start the chunks that are due: the first on the job's own slot, each further
        one only on an idle slot the lender gives (the fairness rule of jobs/chunks.py)."""
        while self._more_to_do():
            due, chunk = min(self.todo, key=lambda item: (item[0], item[1].idx))
            if due > now:
                return
            if running:
                if not self.lender.borrow_slot(self.job.backend):
                    return
                self.borrowed += 1
            self.todo.remove((due, chunk))
            running[pool.submit(self._one, chunk)] = chunk

    def _give_back_a_slot(self) -> None:
        """A chunk finished: a borrowed slot goes back before the next is asked for."""
        if self.borrowed:
            self.borrowed -= 1
            self.lender.return_slot(self.job.backend)

    def _outcome(self) -> Outcome | None:
        if self.failure is not None:
            return Failed(self.failure)
        if self.stopped or self.stopping.is_set():
            return None
        return Done(Transcription([], None, None, 0.0))

    def _one(self, chunk: Chunk) -> Outcome | None:
        """Submit the chunk (unless its future is saved) and poll it to an outcome."""
        job = self.job
        if chunk.state == "running" and chunk.future is not None:
            future = Future.from_dict(chunk.future)
        else:
            self.store.chunks.count_attempt(job.id, chunk.idx)
            path = self.workdir / chunk.path
            request = Request(
                job.id,
                path,
                f"{job.path} [{_label(chunk)}]",
                chunk.bytes,
                job.language,
                job.task,
                on_upload=self.progress.uploaded if self.progress else None,
            )
            try:
                future = self.backend.submit(request)
            except (BackendError, BadInput) as exc:
                return Failed(exc)
            except OSError as exc:
                return Failed(Retryable(f"The chunk could not be read ({exc})."))
            self.store.chunks.move(job.id, chunk.idx, "running", future=future.to_dict())
            log.info(
                "chunk_submitted",
                job=job.id,
                file=job.path,
                chunk=chunk.idx,
                span=_label(chunk),
                remote_id=future.remote_id,
            )
            prepared = not self.incoming.expecting  # no chunk is still to come
            if prepared and not any(
                c.state in ("pending", "submitting") for c in self.store.chunks.for_job(job.id)
            ):
                log.info("job_submitted", job=job.id, file=job.path, backend=job.backend)
        outcome = self._await(future)
        if isinstance(outcome, Done):
            self.store.chunks.move(
                job.id, chunk.idx, "done", result=outcome.result.to_dict(), error=None
            )
            if self.progress is not None:
                self.progress.chunk_done()
        return outcome

    def _await(self, future: Future) -> Outcome | None:
        def waiting(_pending: Pending) -> None:
            if self.progress is not None:
                self.progress.waiting()

        return await_outcome(
            self.backend,
            future,
            self.job.backend,
            self.section.deadline_seconds,
            self.stopping,
            self.clock,
            waiting,
        )

    def _settle(self, chunk: Chunk, outcome: Outcome | None) -> None:
        """Note what became of a chunk: done, again later, or the end of the job."""
        job, chunks = self.job, self.store.chunks
        if outcome is None:
            self.stopped = True
            return
        if isinstance(outcome, Done):
            return
        current = next(c for c in chunks.for_job(job.id) if c.idx == chunk.idx)
        if isinstance(outcome, Gone):
            log.info("chunk_gone", job=job.id, chunk=chunk.idx, reason=outcome.reason)
            # Not the chunk's fault: the attempt it was on is not counted.
            chunks.move(
                job.id, chunk.idx, "pending", future=None, attempts=max(0, current.attempts - 1)
            )
            self.todo.append((self.clock(), self._fresh(chunk)))
            return
        assert isinstance(outcome, Failed)
        error = outcome.error
        # The one retry policy of every job (jobs/retry_policy.py), per chunk: a 429 or
        # server trouble within the transient budget spends no attempt.
        now = self.clock()
        known = self.histories.get(chunk.idx, JobHistory(0))
        history = replace(known, attempts=current.attempts)
        # Jitter, so that the chunks failing together do not all come back at once.
        rules = RetryRules.from_settings(self.rules)
        decision = decide(history, error, now, rules, self.rng.random())
        self.histories[chunk.idx] = after(history, error, decision, now)
        if isinstance(decision, Pause):
            # The server is unreachable: the job waits as a whole (the dispatcher pauses
            # the backend); the chunk's attempt is given back.
            chunks.move(
                job.id,
                chunk.idx,
                "pending",
                future=None,
                error=str(error),
                attempts=max(0, current.attempts - 1),
            )
            self.failure = self.failure or error
            return
        if isinstance(decision, Retry):
            attempts = current.attempts if decision.spends_attempt else current.attempts - 1
            log.warning(
                "chunk_retry",
                job=job.id,
                chunk=chunk.idx,
                span=_label(chunk),
                error=str(error),
                retry_in=round(decision.at - now, 2),
                spends_attempt=decision.spends_attempt,
            )
            chunks.move(
                job.id,
                chunk.idx,
                "pending",
                future=None,
                error=str(error),
                attempts=max(0, attempts),
            )
            self.todo.append((decision.at, self._fresh(chunk)))
            return
        chunks.move(job.id, chunk.idx, "failed", future=None, error=str(error))
        gave_up = f" after {current.attempts} attempts" if isinstance(error, Retryable) else ""
        span = f"{clock_time(chunk.start)} to {clock_time(chunk.end)}"
        message = f"The part from {span} failed{gave_up}: {error}"
        detail = getattr(error, "detail", None)
        failure: BackendError | BadInput = (
            BadInput(message) if isinstance(error, BadInput) else Permanent(message, detail=detail)
        )
        self.failure = self.failure or failure

    def _fresh(self, chunk: Chunk) -> Chunk:
        return next(c for c in self.store.chunks.for_job(self.job.id) if c.idx == chunk.idx)
