"""The chunks of one job in flight: started within the backend's slots, awaited, retried.

See :mod:`dropscribe.jobs.chunking.chunks` for the whole story and the fairness rule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

import structlog

from dropscribe.backends.base import Backend, Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.config import RemoteSettings, TranscribeSettings
from dropscribe.config.vocabulary import Words
from dropscribe.errors import BackendError, BadInput, Retryable
from dropscribe.jobs.chunking.feed import ChunkFeed, Incoming
from dropscribe.jobs.chunking.pace import JobPace
from dropscribe.jobs.chunking.retries import ChunkRetries
from dropscribe.jobs.states import ChunkState
from dropscribe.jobs.store import Job, Store
from dropscribe.jobs.store.chunks import Chunk
from dropscribe.transcript import Transcription

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


def all_sent(store: Store, job: Job) -> bool:
    """Whether every chunk of ``job`` in the store has been sent."""
    unsent = (ChunkState.PENDING, ChunkState.SUBMITTING)
    return not any(c.state in unsent for c in store.chunks.for_job(job.id))


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
        *,
        sleep: Callable[[float], bool] | None = None,
        words: Words | None = None,
        feed: ChunkFeed | None = None,
    ) -> None:
        self.progress = progress
        #: Waits until a retry is due and says whether to stop (beside the clock, so a
        #: test's manual clock drives the whole run).
        self.sleep = sleep or stopping.wait
        self.words = words or Words()
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
        self.todo: list[tuple[float, Chunk]] = [
            (0.0, c) for c in chunks if c.state != ChunkState.DONE
        ]
        self.failure: BackendError | BadInput | None = None
        self.stopped = False
        #: Slots borrowed from the backend's idle ones, beyond the job's own.
        self.borrowed = 0
        #: What follows a chunk's failed try (the retry policy, per chunk).
        self.retries = ChunkRetries(store, job, rules, clock)
        #: When to poll each chunk: near its expected end, from the job's own speed.
        self.pace = JobPace(clock, stopping, sleep)

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
            self.sleep(max(0.0, delay))

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
        if chunk.state == ChunkState.RUNNING and chunk.future is not None:
            future, resumed = Future.from_dict(chunk.future), True
        else:
            sent = self._submit(chunk)
            if isinstance(sent, Failed):
                return sent
            future, resumed = sent, False
        polls = self.pace.polls(chunk.end - chunk.start, future.submitted_at, self.backend)
        limit = self.section.deadline_seconds
        outcome = polls.outcome(self.backend, future, self.job.backend, limit, self._waiting)
        if isinstance(outcome, Done):
            polls.finished(timed=not resumed)
            result = outcome.result.to_dict()
            done = ChunkState.DONE
            self.store.chunks.move(self.job.id, chunk.idx, done, result=result, error=None)
            if self.progress is not None:
                self.progress.chunk_done()
        return outcome

    def _submit(self, chunk: Chunk) -> Future | Failed:
        """Count the chunk's attempt, send it, and save its future before anything else."""
        job = self.job
        self.store.chunks.count_attempt(job.id, chunk.idx)
        request = Request(
            job.id,
            self.workdir / chunk.path,
            f"{job.path} [{chunk.label()}]",
            chunk.bytes,
            job.language,
            job.task,
            on_upload=self.progress.uploaded if self.progress else None,
            # Every chunk is primed with the folder's words, not only the first.
            words=self.words,
        )
        try:
            future = self.backend.submit(request)
        except (BackendError, BadInput) as exc:
            return Failed(exc)
        except OSError as exc:
            return Failed(Retryable(f"The chunk could not be read ({exc})."))
        self.store.chunks.move(job.id, chunk.idx, ChunkState.RUNNING, future=future.to_dict())
        log.info(
            "chunk_submitted",
            job=job.id,
            file=job.path,
            chunk=chunk.idx,
            span=chunk.label(),
            remote_id=future.remote_id,
        )
        # Once, when the plan's last chunk has left: the coverage pass's chunks come
        # after the job was submitted and are logged as chunks only.
        last = not self.incoming.expecting and all_sent(self.store, job)
        if last and not chunk.is_coverage:
            log.info("job_submitted", job=job.id, file=job.path, backend=job.backend)
        return future

    def _waiting(self, _pending: Pending) -> None:
        if self.progress is not None:
            self.progress.waiting()

    def _settle(self, chunk: Chunk, outcome: Outcome | None) -> None:
        """Note what became of a chunk: done, again later, or the end of the job."""
        if outcome is None:
            self.stopped = True
        elif isinstance(outcome, Gone):
            self.todo.append(self.retries.gone(chunk, outcome.reason))
        elif isinstance(outcome, Failed):
            again, failure = self.retries.failed(chunk, outcome.error)
            if again is not None:
                self.todo.append(again)
            self.failure = self.failure or failure
