"""From paths in the inbox to jobs in the store.

Paths come from watcher events and scans, both judged by the one
:class:`InboxFilter`; the stability tracker holds them until they are
finished. Then, per batch:

1. the paths are marked in the store (one commit): a path still marked after
   a restart was in hand when the daemon died (the crash-loop guard);
2. each file is examined (:mod:`arrivals`): hashed, or refused with a reason;
3. one transaction records every job (:mod:`recording`): queued, a duplicate whose stored result
   will be reused, or a refusal with its error, and clears the marks;
4. only then the file system is touched: the duplicates' sidecars and
   archiving, the refusals' error sidecars and moves to ``failed/``.

A crash after 3 leaves jobs in ``discovered`` (or a refusal already marked
failed, its files not yet in place); :meth:`Intake.recover` finishes them at the
next start. Nothing raised for one file reaches the
main loop: it becomes that file's error, logged with its path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillHashing
from pathlib import Path
from typing import Any

import structlog

from dropscribe.config import Settings
from dropscribe.config.originals import originals_fate
from dropscribe.errors import BadInput, local_fault
from dropscribe.inbox.arrivals import Arrival, examine
from dropscribe.inbox.filters import InboxFilter
from dropscribe.inbox.recording import JobRecorder
from dropscribe.inbox.settling import IntakeSettler
from dropscribe.inbox.stability import StabilityTracker
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Store
from dropscribe.sources import hash_source, stat_source

log = structlog.get_logger("dropscribe.inbox.intake")

#: Files recorded per transaction when many are ready at once.
INTAKE_BATCH = 200
#: While a batch is hashed (up to 200 files of up to 2 GiB, perhaps on a slow share), the
#: main loop keeps the service watchdog fed this often.
HEARTBEAT_SECONDS = 5.0
#: A file being taken in, alone, when the daemon died this many times is failed, not
#: tried again: it is what kills the daemon. (Alone, so that a crash blames one file.)
DEATHS_BEFORE_GIVING_UP = 2
CRASH_LOOP = (
    "dropscribe stopped twice while taking in this file, so it was set aside instead of "
    "stopping the service again; report it, then retry it."
)


class Intake:
    """Watches the inbox's paths and takes finished files in as jobs (see above)."""

    def __init__(
        self,
        current: Callable[[], Settings],
        store: Store,
        finisher: Finisher,
        fingerprint: Callable[[str], dict[str, Any]],
        clock: Callable[[], float],
        heartbeat: Callable[[], None] = lambda: None,
        readiness: Readiness | None = None,
    ) -> None:
        # The settings in force are read for each file (a reload swaps them);
        # the inbox, filter and settle time need a restart.
        self.current = current
        settings = current()
        self.heartbeat = heartbeat
        self.inbox = settings.paths.inbox
        self.store = store
        self.finisher = finisher
        self.clock = clock
        self.filter = InboxFilter(settings.watch.extensions, settings.watch.ignore)
        self.tracker = StabilityTracker(settings.watch.settle_seconds)
        self.recorder = JobRecorder(current, store, fingerprint, clock)
        self.readiness = readiness or Readiness(clock)
        #: Settles refusals and duplicates, and the copies waiting for their first job.
        self.settler = IntakeSettler(store, finisher, clock, self.readiness)

    @property
    def settings(self) -> Settings:
        return self.current()

    def relative(self, path: str) -> str | None:
        """Return ``path`` relative to the inbox with '/' separators, or None if outside."""
        try:
            relative = Path(path).relative_to(self.inbox).as_posix()
        except ValueError:
            return None
        return relative if relative != "." else None

    # --- watching ------------------------------------------------------------

    def look(self, relative: str, now: float) -> None:
        """Note the current size and mtime of a reported path, or forget it if it is gone.

        A link, folder or other special file with an audio name is refused at once.
        """
        try:
            self._look(relative, now)
        except Exception:  # one path must never stop the daemon
            log.exception("intake_error", file=relative)
            self.tracker.forget(relative)

    def _look(self, relative: str, now: float) -> None:
        if not self.filter(relative):
            return
        try:
            info = stat_source(self.inbox / relative)
        except (FileNotFoundError, NotADirectoryError):
            self.tracker.forget(relative)  # removed before it was stable: forgotten silently
            return
        except OSError as exc:
            log.warning("cannot_stat", file=relative, error=str(exc))
            return
        if self.recorder.known.get(relative) == (info.st_size, info.st_mtime):
            self._left_behind(relative, info)
            return
        if stat.S_ISREG(info.st_mode):
            self.tracker.observe(relative, info.st_size, info.st_mtime, now)
        else:
            self._take_in([(relative, info)])  # nothing to wait for: refused at once

    def process_due(self, now: float) -> int:
        """Turn every file that has been quiet long enough into a job; return how many.

        Files are taken in batches, with a heartbeat between them so that a large
        inbox never starves the service watchdog.
        """
        self.settler.complete_unsettled()
        due = self.tracker.due(now)
        accepted = 0
        for start in range(0, len(due), INTAKE_BATCH):
            ready = []
            for relative in due[start : start + INTAKE_BATCH]:
                try:
                    info = stat_source(self.inbox / relative)
                except OSError:
                    self.tracker.forget(relative)
                    continue
                if not self.tracker.matches(relative, info.st_size, info.st_mtime):
                    self.tracker.observe(relative, info.st_size, info.st_mtime, now)
                    continue
                self.tracker.forget(relative)
                ready.append((relative, info))
            try:
                accepted += self._take_in(ready)
            except Exception as exc:
                self._batch_failed(ready, exc, now)
            else:
                if ready:
                    self.readiness.disk_ok("the job store")
            self.heartbeat()
        return accepted

    def _batch_failed(
        self, ready: list[tuple[str, os.stat_result]], exc: Exception, now: float
    ) -> None:
        """The store could not record a batch: its files wait to be taken in again."""
        for relative, info in ready:
            self.tracker.observe(relative, info.st_size, info.st_mtime, now)
        fault = local_fault(exc)
        if fault is None:
            log.error("intake_batch_error", files=len(ready), exc_info=exc)
        else:  # the store's disk: intake pauses (Readiness) and takes them when it can
            self.readiness.disk_failed("the job store", fault)

    def _left_behind(self, relative: str, info: os.stat_result) -> None:
        """Put away an original seen again after its job was done: the inbox was away
        when it was to be archived (same path, same content: the same job, done)."""
        if originals_fate(self.settings.paths) == "keep":
            return
        job = self.store.latest_of(relative)  # a read; the file is hashed only if it is done
        done = job is not None and job.state in (JobState.DONE, JobState.SKIPPED)
        if job is None or not done or (job.size, job.mtime) != (info.st_size, info.st_mtime):
            return  # still in hand (queued, running), or another file now
        try:
            same = hash_source(self.inbox / relative, inside=self.inbox) == job.sha256
        except (OSError, BadInput):
            return
        if same:
            log.info("archived_late", job=job.id, file=job.path)
            self.finisher.put_away(job)

    # --- taking in: mark, examine, record, then touch the file system --------

    def _take_in(self, ready: list[tuple[str, os.stat_result]], *, alone: bool = False) -> int:
        if not ready:
            return 0
        ready.sort(key=lambda item: item[0])  # same-stem names resolved in one order
        paths = [relative for relative, _ in ready]
        self.store.mark_intake(paths, alone=alone)
        limit = self.settings.transcribe.max_file_bytes
        arrivals = examine_off_thread(self.inbox, ready, limit, self.heartbeat)
        jobs = self.recorder.record([a for a in arrivals if a is not None], paths)
        for job in jobs:
            self.settler.complete(job)
        return len(jobs)

    def settle_waiting(self) -> int:
        """Settle the copies that waited for their content's first job (see settling.py)."""
        return self.settler.settle_waiting()

    # --- after a restart ------------------------------------------------------

    def recover(self) -> None:
        """Finish what a crash interrupted: recorded jobs whose files were not yet
        moved or answered, and paths that were in hand when the daemon died (taken in
        again one by one; one that was in hand alone twice is failed)."""
        # First the failed jobs whose originals a crash left in the inbox: before any
        # scan, which would otherwise take such an original in again.
        self.finisher.recover()
        pending = self.store.jobs([JobState.DISCOVERED])
        marks = self.store.intake_marks()
        if pending or marks:
            log.info("recovering_intake", jobs=len(pending), files=len(marks))
        for job in pending:
            self.settler.complete(job)
        for relative, deaths in marks.items():
            try:
                info = stat_source(self.inbox / relative)
            except OSError:
                self.store.unmark_intake([relative])
                continue
            if deaths >= DEATHS_BEFORE_GIVING_UP:
                self._give_up(relative, info)
            else:
                self._take_in([(relative, info)], alone=True)

    def _give_up(self, relative: str, info: os.stat_result) -> None:
        log.error("crash_loop_guard", file=relative)
        arrival = Arrival(relative, info.st_size, info.st_mtime, "", BadInput(CRASH_LOOP))
        for job in self.recorder.record([arrival], [relative]):
            self.settler.complete(job)


def examine_off_thread(
    inbox: Path, ready: list[tuple[str, os.stat_result]], limit: int, heartbeat: Callable[[], None]
) -> list[Arrival | None]:
    """Hash and check the files off the main thread, feeding the watchdog meanwhile."""

    def examine_all() -> list[Arrival | None]:
        return [examine(inbox, relative, info, limit) for relative, info in ready]

    with ThreadPoolExecutor(1, thread_name_prefix="intake-hash") as pool:
        hashing = pool.submit(examine_all)
        while True:
            try:
                return hashing.result(timeout=HEARTBEAT_SECONDS)
            except StillHashing:
                heartbeat()
