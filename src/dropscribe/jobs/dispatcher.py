"""Claims queued jobs, drives each through its backend, retries with backoff.

Each claimed job runs on a job thread of its own while it lasts (bounded by
the backend's concurrency; the threads are kept for the next jobs); the thread
blocks on network or worker I/O while the main loop stays free. Every state
change goes through the store first.
"""

from __future__ import annotations

import queue
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog

from dropscribe.backends import create_backend
from dropscribe.backends.base import Backend, Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.config import RemoteSettings, Settings
from dropscribe.errors import (
    BadInput,
    DropscribeError,
    Permanent,
    Retryable,
    ServerDown,
)
from dropscribe.jobs.chunks import ChunkedUploads
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.completion import Finisher
from dropscribe.outbox.transcript import Transcription

log = structlog.get_logger("dropscribe.jobs.dispatcher")

#: The longest wait between two tries of a backend that is down.
DOWN_CHECK_MAX_SECONDS = 60.0
#: How long one poll may block on a backend that can wait (the local engine).
POLL_WAIT = 0.5
#: A job thread left without work this long ends.
IDLE_THREAD_SECONDS = 60.0


def error_kind(error: DropscribeError) -> str:
    """Return the metrics label of an error: bad_input, permanent, server_down or retryable."""
    if isinstance(error, BadInput):
        return "bad_input"
    if isinstance(error, ServerDown):
        return "server_down"
    if isinstance(error, Retryable):
        return "retryable"
    return "permanent"


def human_size(size: int) -> str:
    """Return ``size`` in bytes as people read it: "900 bytes", "1.5 MB"."""
    return f"{size} bytes" if size < 100_000 else f"{size / 2**20:.1f} MB"


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Return the wait before retry number ``attempt``: exponential, capped, with jitter."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    # "Equal jitter": at least half the ceiling, so retries never bunch at zero.
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        finisher: Finisher,
        clock: Callable[[], float],
        wake: threading.Event,
        backend_factory: Callable[[str, Settings], Backend] = create_backend,
        backends: dict[str, Backend] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.finisher = finisher
        self.clock = clock
        self.wake = wake
        self.backend_factory = backend_factory
        self.backends: dict[str, Backend] = dict(backends or {})
        self.active: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        #: Job threads live on between jobs (starting a thread per job cost a clone,
        #: a stack and a handshake for every file); idle ones wait on this queue.
        self._threads: set[threading.Thread] = set()
        self._waiting_jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._idle_threads = 0
        self._down: Counter[str] = Counter()
        #: A backend that is down takes no new jobs until then: its queue waits as a whole.
        self._paused_until: dict[str, float] = {}
        self._rng = random.Random()
        self.retries = 0
        #: Errors reported by backends, by (backend, kind).
        self.backend_errors: Counter[tuple[str, str]] = Counter()
        #: Remote jobs go as compact chunks; their chunks borrow idle slots from here.
        self.chunked = ChunkedUploads(settings, store, clock, self.stopping, self)

    def backend(self, name: str) -> Backend:
        with self._lock:
            if name not in self.backends:
                self.backends[name] = self.backend_factory(name, self.settings)
            return self.backends[name]

    def borrow_slot(self, backend: str) -> bool:
        """Lend one of ``backend``'s idle slots to a chunk, unless another file is due."""
        due = self.store.next_due(backend)
        with self._lock:
            free = self.backends[backend].concurrency - self.active[backend]
            if free <= 0 or (due is not None and due <= self.clock()):
                return False
            self.active[backend] += 1
            return True

    def return_slot(self, backend: str) -> None:
        with self._lock:
            self.active[backend] -= 1
        self.wake.set()

    def fingerprint(self, name: str) -> dict[str, Any]:
        return self.backend(name).settings_fingerprint()

    # --- the main loop's side --------------------------------------------------

    def warm_up(self) -> None:
        """Create the configured backends; those with a warm-up (the local engine) start it."""
        for name in self.settings.backend_names():
            warm = getattr(self.backend(name), "warm_up", None)
            if warm is not None:
                warm()

    def recover(self) -> None:
        """After a restart: resend interrupted submissions, poll saved futures, finish writes."""
        requeued = self.store.requeue_interrupted()
        resumed = self.store.jobs([JobState.RUNNING, JobState.WRITING])
        if requeued or resumed:
            log.info("recovering", requeued=requeued, resumed=len(resumed))
        for job in resumed:
            self._start(job)

    def pump(self, now: float) -> int:
        """Start as many due jobs as the backends' concurrency allows; return how many."""
        if self.stopping.is_set():
            return 0
        started = 0
        for name in self.store.queued_backends():
            if now < self._paused_until.get(name, 0.0):
                continue
            try:
                backend = self.backend(name)
            except (ImportError, KeyError) as exc:
                log.error("backend_unavailable", backend=name, error=str(exc))
                continue
            free = backend.concurrency - self.active[name]
            for job in self.store.claim(name, free, now):
                self._start(job)
                started += 1
        return started

    def next_due(self) -> float | None:
        """Return when the earliest waiting job can start, if one waits for a free slot.

        A backend with no free slot is left out: a finishing job wakes the loop, and
        counting its due jobs would make the loop spin.
        """
        known = []
        for name in self.store.queued_backends():
            if name in self.backends and self.active[name] >= self.backends[name].concurrency:
                continue
            due = self.store.next_due(name)
            if due is not None:
                known.append(max(due, self._paused_until.get(name, 0.0)))
        return min(known) if known else None

    def in_flight(self) -> int:
        return sum(self.active.values())

    def stop(self, grace: float) -> None:
        """Stop polling; wait up to ``grace`` seconds for threads to hand their work back."""
        self.stopping.set()
        deadline = self.clock() + grace
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._waiting_jobs.put(None)  # one each: idle threads leave at once
        for thread in threads:
            thread.join(max(0.0, deadline - self.clock()))
        for backend in list(self.backends.values()):
            backend.close()

    # --- one job -------------------------------------------------------------

    def _start(self, job: Job) -> None:
        with self._lock:
            self.active[job.backend] += 1
            spawn = self._idle_threads == 0
            if not spawn:
                self._idle_threads -= 1  # that thread is spoken for
        self._waiting_jobs.put(job)
        if spawn:
            thread = threading.Thread(target=self._serve, daemon=True, name="dropscribe-job")
            with self._lock:
                self._threads.add(thread)
            thread.start()

    def _serve(self) -> None:
        """Run jobs until told to stop, or until idle for IDLE_THREAD_SECONDS."""
        while True:
            try:
                job = self._waiting_jobs.get(timeout=IDLE_THREAD_SECONDS)
            except queue.Empty:
                with self._lock:
                    # Leave only when no job was promised to an idle thread meanwhile.
                    if self._idle_threads > 0 and self._waiting_jobs.empty():
                        self._idle_threads -= 1
                        self._threads.discard(threading.current_thread())
                        return
                continue
            if job is None:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            self._drive(job)
        except DropscribeError as exc:
            self._handle_error_safely(job, exc)
        except Exception as exc:  # a bug must not stop the daemon: retry, then fail clearly
            log.exception("job_crashed", job=job.id, file=job.path)
            self._handle_error_safely(job, Retryable(f"Internal error: {exc!r}"))
        finally:
            with self._lock:
                self.active[job.backend] -= 1
                # Idle from now on (counted before the wake, so the loop reuses this thread).
                self._idle_threads += 1
            self.wake.set()

    def _drive(self, job: Job) -> None:
        backend = self.backend(job.backend)
        if job.state == JobState.WRITING:
            stored = self.store.result_for(job.sha256, job.settings_key)
            if stored is not None:
                self.finisher.succeed(job, Transcription.from_dict(stored))
                return
            job = self.store.move(job.id, JobState.QUEUED, next_attempt_at=self.clock())
            return
        if self.chunked.applies(job, backend):
            outcome = self.chunked.run(job, backend, self.finisher.source_of(job))
            job = self.store.get(job.id)
        else:
            outcome = self._submit_and_await(job, backend)
            job = self.store.get(job.id)
            if job.state == JobState.QUEUED:
                return  # handed to the fallback
        if outcome is None:
            self._hand_back(job)
        elif isinstance(outcome, Done):
            self._down[job.backend] = 0
            self._paused_until.pop(job.backend, None)
            self.finisher.succeed_together(job, outcome.result)
            self.chunked.finished(job)
        elif isinstance(outcome, Failed):
            self._handle_error(job, outcome.error)
        elif isinstance(outcome, Gone):
            log.info("future_gone", job=job.id, file=job.path, reason=outcome.reason)
            self._give_back(job)

    def _submit_and_await(self, job: Job, backend: Backend) -> Outcome | None:
        if job.state == JobState.SUBMITTING:
            future = self._submit(job, backend)
            if future is None:
                return None
            job = self.store.move(
                job.id, JobState.RUNNING, future=future.to_dict(), count_submission=True
            )
            log.info(
                "job_submitted",
                job=job.id,
                file=job.path,
                backend=job.backend,
                remote_id=future.remote_id,
                attempt=job.attempts,
            )
        else:
            assert job.future is not None
            future = Future.from_dict(job.future)
        return self._await(job, backend, future)

    def _submit(self, job: Job, backend: Backend) -> Future | None:
        source = self.finisher.source_of(job)
        if not source.exists():
            raise BadInput(
                "The file disappeared from the inbox before it could be transcribed; drop it again."
            )
        limit = backend.max_upload_bytes
        if limit is not None and job.size > limit:
            if backend.fallback:
                log.info("using_fallback", job=job.id, file=job.path, backend=backend.fallback)
                self._give_back(job, backend=backend.fallback)
                return None
            raise Permanent(
                f"The file is {human_size(job.size)}, over the {human_size(limit)} upload "
                f"limit of the {job.backend} backend; set backends.{job.backend}.fallback to "
                "another backend or split the file."
            )
        request = Request(job.id, source, job.path, job.size, job.language, job.task)
        return backend.submit(request)

    def _await(self, job: Job, backend: Backend, future: Future) -> Outcome | None:
        section = self.settings.backend_settings(job.backend)
        limit = section.deadline_seconds if isinstance(section, RemoteSettings) else None
        deadline = None if limit is None else future.submitted_at + limit
        polls = 0
        while not self.stopping.is_set():
            delay = backend.poll_delay(polls)
            if delay and self.stopping.wait(delay):
                break
            outcome = backend.poll(future, POLL_WAIT)
            polls += 1
            if not isinstance(outcome, Pending):
                return outcome
            if deadline is not None and self.clock() > deadline:
                return Failed(
                    Retryable(
                        f"No result within {limit:.0f} s "
                        f"(backends.{job.backend}.deadline_seconds); it will be submitted again."
                    )
                )
        return None

    def _hand_back(self, job: Job) -> None:
        """On shutdown: remote futures stay saved and are polled after the restart;
        work held in this process goes back to the queue without costing an attempt."""
        if job.backend == "local":
            self._give_back(job)
            log.info("job_handed_back", job=job.id, file=job.path)

    def _give_back(self, job: Job, **fields: Any) -> None:
        """Put the job back in the queue now, without counting the attempt it was on:
        what stopped it was not the file's fault."""
        self.store.move(
            job.id,
            JobState.QUEUED,
            attempts=max(0, job.attempts - 1),
            next_attempt_at=self.clock(),
            future=None,
            **fields,
        )

    def _handle_error_safely(self, job: Job, error: DropscribeError) -> None:
        try:
            self._handle_error(self.store.get(job.id), error)
        except Exception:
            # Even the error could not be recorded (a full disk, say): the job keeps its
            # state and is taken up again at the next start; the log says so now.
            log.exception("job_stuck", job=job.id, file=job.path, error=str(error))

    def _handle_error(self, job: Job, error: DropscribeError) -> None:
        now = self.clock()
        if job.state not in (JobState.SUBMITTING, JobState.RUNNING, JobState.WRITING):
            return
        self.backend_errors[job.backend, error_kind(error)] += 1
        if isinstance(error, BadInput | Permanent) or not isinstance(error, Retryable):
            self.finisher.fail(job, error)
            return
        if isinstance(error, ServerDown):
            # A server that is down makes jobs wait; it does not use up their attempts.
            self._down[job.backend] += 1
            transcribe = self.settings.transcribe
            # Checked at least once a minute, so a server that comes back is noticed soon.
            delay = min(
                transcribe.retry_max_seconds,
                DOWN_CHECK_MAX_SECONDS,
                transcribe.retry_base_seconds * 2 ** (self._down[job.backend] - 1),
            )
            delay = max(delay, error.retry_after or 0.0)
            self._paused_until[job.backend] = now + delay
            log.warning(
                "backend_down",
                backend=job.backend,
                job=job.id,
                error=str(error),
                retry_in=round(delay, 1),
            )
            self._requeue(job, now + delay, error, attempts=max(0, job.attempts - 1))
            return
        if job.attempts >= self.settings.transcribe.max_attempts:
            self.finisher.fail(job, error, gave_up=True)
            return
        transcribe = self.settings.transcribe
        delay = backoff_delay(
            job.attempts, transcribe.retry_base_seconds, transcribe.retry_max_seconds, self._rng
        )
        delay = max(delay, error.retry_after or 0.0)
        self.retries += 1
        log.warning(
            "job_retry",
            job=job.id,
            file=job.path,
            attempt=job.attempts,
            error=str(error),
            retry_in=round(delay, 2),
        )
        self._requeue(job, now + delay, error)

    def _requeue(self, job: Job, when: float, error: Retryable, **fields: Any) -> None:
        """Put the job back in the queue until ``when``, noting why; its future is dropped."""
        self.store.move(
            job.id,
            JobState.QUEUED,
            next_attempt_at=when,
            error=str(error),
            error_detail=error.detail,
            future=None,
            **fields,
        )
