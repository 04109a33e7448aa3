"""The end of a job's try that succeeded: its result timed, labelled and written out.

The transcript is saved in the store before anything that may take long or fail
(speaker labels, the sidecars); a disk fault while writing holds the job with its
result, so only the write is tried again, never the decode.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from dropscribe.audio.headers import header_seconds
from dropscribe.backends.base import Done, Outcome
from dropscribe.config import RemoteSettings, Settings
from dropscribe.errors import DropscribeError, local_fault
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.held import HeldWork
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.sources import open_source
from dropscribe.speakers.runner import DiarizationInterrupted, add_speakers, limits_for, skipped
from dropscribe.transcript import Transcription


class ResultWriter:
    """Writes out the results of the jobs of one dispatcher."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        finisher: Finisher,
        clock: Callable[[], float],
        stopping: threading.Event,
        readiness: Readiness,
        held: HeldWork,
    ) -> None:
        self.settings = settings
        self.store = store
        self.finisher = finisher
        self.clock = clock
        self.stopping = stopping
        self.readiness = readiness
        self.held = held

    def timed(self, job: Job, outcome: Outcome | None) -> Outcome | None:
        """A file sent as it is to a remote engine: its length from its own header when
        that states it, not where the server's last words end (most give no duration).
        The local engine counted the samples it decoded: its length stands."""
        remote = isinstance(self.settings().backend_settings(job.backend), RemoteSettings)
        if not isinstance(outcome, Done) or not remote:
            return outcome
        try:
            root, path = self.finisher.where_is(job)
            with open_source(path, inside=root) as stream:  # never through a link
                seconds = header_seconds(stream)
        except (OSError, DropscribeError):
            return outcome  # gone since: the server's word will do
        if seconds is None:
            return outcome
        # Never shorter than the words: a header may understate a file that grew.
        ends = [segment["end"] for segment in outcome.result.segments]
        duration = round(max([seconds, *ends]), 3)
        return Done(dataclasses.replace(outcome.result, duration=duration))

    def finish(self, job: Job, result: Transcription) -> bool:
        """Save ``result`` and write the job out; return False when it is not done yet
        (stopping while labelling speakers, or held for the disk with its result)."""
        limits = limits_for(self.settings(), job.path)
        try:
            if limits is None:
                if job.state == JobState.WRITING:  # saved already: held after the save
                    self.finisher.succeed(job, result)
                else:
                    self.finisher.succeed_together(job, result)
            else:  # the transcript is saved (state writing) before diarization starts
                if job.state != JobState.WRITING:
                    job = self.store.save_result(job.id, result.to_dict())
                try:
                    self.finisher.succeed(job, self._with_speakers(job, result))
                except DiarizationInterrupted:
                    return False  # stopping: still writing, labelled after the restart
        except Exception as exc:
            if local_fault(exc) is None:
                raise
            self.held.hold(job.id, result, exc)  # kept here: the store may not have it
            return False
        self.readiness.disk_ok()
        return True

    def write_saved(self, job: Job) -> None:
        """Write out the result saved before a crash, or queue the job again without one."""
        stored = self.store.result_for(job.sha256, job.settings_key) if job.sha256 else None
        if stored is None:
            self.store.move(job.id, JobState.QUEUED, next_attempt_at=self.clock())
            return
        try:
            result = self._with_speakers(job, Transcription.from_dict(stored))
        except DiarizationInterrupted:
            return  # stopping: still writing, labelled after the restart
        self.finisher.succeed(job, result)

    def _with_speakers(self, job: Job, result: Transcription) -> Transcription:
        """Return ``result`` with speaker labels when the job's folder wants them; a
        failure leaves a warning in it, never a failed job."""
        limits = limits_for(self.settings(), job.path)
        if limits is None:
            return result
        try:
            source = self.finisher.source_of(job)
        except DropscribeError as exc:
            return skipped(result, exc)
        limit = self.settings().transcribe.max_duration_seconds
        labelled = add_speakers(
            result,
            source,
            limits,
            max_duration=limit,
            stopping=self.stopping,
            label=job.path,  # relative, as every other log line names the file
        )
        # Kept in place of the unlabelled one, so that a duplicate reuses the labels.
        self.store.replace_result(job.id, labelled.to_dict())
        return labelled
