"""Recording arrivals as jobs: one transaction for a batch, one savepoint a file.

Each examined file becomes a job: queued, a duplicate whose stored result will
be reused (left in ``discovered`` for intake to settle; a copy of content still
being transcribed waits there for it), or a refusal carrying its error. An
arrival an existing job already covers records nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import structlog

from dropscribe.config import Settings
from dropscribe.config.originals import originals_fate
from dropscribe.errors import BadInput, local_fault
from dropscribe.inbox.arrivals import Arrival
from dropscribe.jobs.states import TERMINAL, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.naming import sidecar_stem
from dropscribe.speakers.runner import limits_for

log = structlog.get_logger("dropscribe.inbox.intake")


def settings_key(backend: str, language: str, task: str, fingerprint: dict[str, Any]) -> str:
    """Return the key under which a result is reused: same content, same settings."""
    payload = json.dumps([backend, language, task, fingerprint], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class JobRecorder:
    """Turns arrivals into jobs in the store, and remembers which files it has seen."""

    def __init__(
        self,
        current: Callable[[], Settings],
        store: Store,
        fingerprint: Callable[[str], dict[str, Any]],
        clock: Callable[[], float],
    ) -> None:
        self.current = current  # read for each file: a reload swaps the settings
        self.store = store
        self.fingerprint = fingerprint
        self.clock = clock
        # (size, mtime) of files already turned into jobs: rescans skip them unhashed.
        self.known: dict[str, tuple[int, float]] = store.known_files()

    def record(self, arrivals: list[Arrival], paths: list[str]) -> list[Job]:
        """Record every arrival's job and clear the batch's marks, in one transaction."""
        jobs = []
        recorded = []
        with self.store.batch():
            for arrival in arrivals:
                try:
                    with self.store.batch():  # a savepoint: one file's failure undoes itself
                        job = self._recorded(arrival)
                except Exception as exc:
                    if local_fault(exc) is not None:
                        raise  # the store's disk, not this file: the whole batch waits
                    log.exception("intake_error", file=arrival.relative)
                    continue
                recorded.append(arrival)
                if job is not None:
                    jobs.append(job)
            self.store.unmark_intake(paths)
        # Only once committed: a batch the disk refused is taken in again later.
        self.known.update({a.relative: (a.size, a.mtime) for a in recorded})
        return jobs

    def _recorded(self, arrival: Arrival) -> Job | None:
        """Return the new job for ``arrival``, or None when an existing job covers it."""
        latest = self.store.latest_for(arrival.relative, arrival.sha256)
        if latest is not None and latest.state not in TERMINAL:
            return None
        if arrival.refusal is not None:
            if latest is not None and (latest.size, latest.mtime) == (arrival.size, arrival.mtime):
                return None  # a folder or link left where it was: refused once
            return self._new_job(arrival, arrival.refusal)
        kept = originals_fate(self.current().paths) == "keep"
        if kept and latest is not None and latest.state in (JobState.DONE, JobState.SKIPPED):
            return None  # a kept original seen again by a rescan or a restart
        job = self._new_job(arrival)
        first = self.store.active_twin(job)
        if first is not None:
            # The same content is being transcribed (a copy dropped with it, or while it
            # runs): wait in `discovered` for its result instead of decoding it twice.
            log.info("duplicate_waiting", job=job.id, file=job.path, first=first.id)
        elif self.store.result_for(job.sha256, job.settings_key) is None:
            job = self.store.move(job.id, JobState.QUEUED, next_attempt_at=self.clock())
            log.info("job_queued", job=job.id, file=job.path, backend=job.backend)
        return job

    def _fingerprint(self, settings: Settings, relative: str, backend: str) -> dict[str, Any]:
        """What the result depends on besides the content: the backend's settings and
        whether (and how) speakers are labelled, and the folder's vocabulary and prompt,
        so that a duplicate reuses a result made the way its own folder asks."""
        limits = limits_for(settings, relative)
        speakers = None if limits is None else dataclasses.asdict(limits)
        fingerprint = {**self.fingerprint(backend), "speakers": speakers}
        words = settings.words_for(relative).fingerprint()
        if words is not None:  # absent without words: keys made before them still match
            fingerprint["words"] = words
        return fingerprint

    def _new_job(self, arrival: Arrival, refusal: BadInput | None = None) -> Job:
        relative = arrival.relative
        settings = self.current()  # once: a reload in between must not mix two settings
        override = settings.folder_override(relative)
        transcribe = settings.transcribe
        backend = override.backend or transcribe.backend
        language = override.language or transcribe.language
        task = override.task or transcribe.task
        output_name = self.store.output_name_of(relative) or sidecar_stem(
            relative, lambda name: self.store.output_name_taken(name, relative)
        )
        return self.store.add_job(
            path=relative,
            sha256=arrival.sha256,
            size=arrival.size,
            mtime=arrival.mtime,
            output_name=output_name,
            backend=backend,
            language=language,
            task=task,
            settings_key=settings_key(
                backend, language, task, self._fingerprint(settings, relative, backend)
            ),
            error=None if refusal is None else str(refusal),
            error_detail=None if refusal is None else refusal.detail,
        )
