"""Claims queued jobs and runs each on a job thread, within its backend's concurrency.

A job's thread blocks on network or worker I/O while the main loop stays free.
The threads come from a standard ``ThreadPoolExecutor``, which keeps idle ones
for the next jobs (measured against the hand-made pool it replaced in
bench/README.md, benchmark 2). Driving one job is :class:`JobDriver`'s work;
the retry policy decides after failures. Chunks of a remote job borrow idle
slots here (:meth:`borrow_slot`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future as TaskFuture
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import structlog

from dropscribe.backends.base import Backend, WarmsUp
from dropscribe.backends.registry import create_backend
from dropscribe.config import Settings
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.counters import BackendPauses, JobCounters
from dropscribe.jobs.driver import JobDriver
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.runner import BackendFactory, Runner
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.transcript import Transcription

log = structlog.get_logger("dropscribe.jobs.dispatcher")

#: More job threads than any configuration's concurrency adds up to; threads are
#: only started when no idle one is free, so this is a ceiling, not a cost.
MAX_JOB_THREADS = 256


class Dispatcher:
    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        finisher: Finisher,
        clock: Callable[[], float],
        wake: threading.Event,
        backend_factory: BackendFactory = create_backend,
        backends: dict[str, Backend] | None = None,
        readiness: Readiness | None = None,
    ) -> None:
        self.settings = settings
        #: The machine's disks and inbox: no new job starts while they are not ready.
        self.readiness = readiness or Readiness(clock)
        self.store = store
        self.clock = clock
        self.wake = wake
        self.stopping = threading.Event()
        self.runner = Runner(
            settings,
            clock=clock,
            factory=backend_factory,
            backends=backends,
            stopping=self.stopping,
        )
        self.counters = JobCounters()
        self.pauses = BackendPauses()
        self.driver = JobDriver(
            settings,
            store,
            finisher,
            self.runner,
            clock,
            self.pauses,
            self.counters,
            self,
            self.readiness,
        )
        self._lock = threading.Lock()
        self.active: Counter[str] = Counter()
        self._tasks: set[TaskFuture[None]] = set()
        self._executor = ThreadPoolExecutor(MAX_JOB_THREADS, thread_name_prefix="dropscribe-job")

    # --- read by the daemon and the metrics ----------------------------------------

    def borrow_slot(self, backend: str) -> bool:
        """Lend one of ``backend``'s idle slots to a chunk, unless another file is due."""
        due = self.store.next_due(backend)
        concurrency = self.runner.backend(backend).concurrency
        with self._lock:
            free = concurrency - self.active[backend]
            if free <= 0 or (due is not None and due <= self.clock()):
                return False
            self.active[backend] += 1
            return True

    def return_slot(self, backend: str) -> None:
        with self._lock:
            self.active[backend] -= 1
        self.wake.set()

    def fingerprint(self, name: str) -> dict[str, Any]:
        return self.runner.backend(name).settings_fingerprint()

    def in_flight(self) -> int:
        with self._lock:
            return sum(self.active.values())

    @property
    def retries(self) -> int:
        return self.counters.retries

    @property
    def backend_errors(self) -> dict[tuple[str, str], int]:
        return self.counters.backend_errors

    # --- the main loop's side --------------------------------------------------

    def warm_up(self) -> None:
        """Create the configured backends; those with a warm-up (the local engine) start it."""
        for name in self.settings().backend_names():
            backend = self.runner.backend(name)
            if isinstance(backend, WarmsUp):
                backend.warm_up()

    def recover(self) -> None:
        """After a restart: resend interrupted submissions, poll saved futures, finish writes."""
        # The work in hand is timed from now: a job's seconds never span the restart.
        self.store.restart_clocks()
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
        started = self._resume_held(now)
        if not self.readiness.may_take_work(now):
            return started
        for name in self.store.queued_backends():
            if now < self.pauses.until(name):
                continue
            try:
                backend = self.runner.backend(name)
            except (ImportError, KeyError) as exc:
                log.error("backend_unavailable", backend=name, error=str(exc))
                continue
            with self._lock:
                free = backend.concurrency - self.active[name]
            for job in self.store.claim(name, free, now):
                self._start(job)
                started += 1
        return started

    def _resume_held(self, now: float) -> int:
        """Take up the jobs held for the disk once its next try is due; return how many."""
        held = self.driver.held.due(now)
        for job_id, result in held:
            try:
                job = self.store.get(job_id)
            except Exception as exc:  # the store cannot even be read: held again, not lost
                self.driver.held.hold(job_id, result, exc)
                continue
            self._start(job, resume=True, result=result)
        return len(held)

    def next_due(self) -> float | None:
        """Return when the earliest waiting job can start, if one waits for a free slot.

        A backend with no free slot is left out: a finishing job wakes the loop, and
        counting its due jobs would make the loop spin.
        """
        known = []
        for name in self.store.queued_backends():
            backend = self.runner.known(name)
            with self._lock:
                full = backend is not None and self.active[name] >= backend.concurrency
            if full:
                continue
            due = self.store.next_due(name)
            if due is not None:
                known.append(max(due, self.pauses.until(name)))
        if len(self.driver.held):
            known.append(self.readiness.retry_at() or self.clock())
        return min(known) if known else None

    def stop(self, grace: float) -> bool:
        """Stop polling; wait up to ``grace`` seconds for jobs to hand their work back,
        close the engines, then wait as long again for the job threads to end.

        Returns whether every job thread ended: only then may the store be closed (a
        thread still running would write to a closed database).
        """
        self.stopping.set()
        with self._lock:
            tasks = list(self._tasks)
        wait(tasks, timeout=grace)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.runner.close()  # a thread still waiting on an engine is answered now
        _, running = wait(tasks, timeout=grace)
        if running:
            log.warning("job_threads_still_running", threads=len(running))
        return not running

    # --- one job -------------------------------------------------------------

    def _start(
        self, job: Job, *, resume: bool = False, result: Transcription | None = None
    ) -> None:
        with self._lock:
            self.active[job.backend] += 1
        task = self._executor.submit(self._run, job, resume, result)
        with self._lock:
            self._tasks.add(task)
        task.add_done_callback(self._discard)

    def _discard(self, task: TaskFuture[None]) -> None:
        with self._lock:
            self._tasks.discard(task)

    def _run(self, job: Job, resume: bool, result: Transcription | None) -> None:
        try:
            if resume:
                self.driver.resume(job, result)
            else:
                self.driver.run(job)
        finally:
            with self._lock:
                self.active[job.backend] -= 1
            self.wake.set()
