"""The coverage pass for a file uploaded as it is (under ``compact_above_bytes``, or
``upload_format = "original"``): no worker compacted it, so none heard its speech.

Once its words are back, a gap of :data:`~dropscribe.transcript.coverage.MIN_MISSING_SECONDS`
or more (between words, before the first or after the last; stretched words clipped
first) is the only sign that speech may be missing. Only then is the worker started to
hear the file (a ``HearRequest``: the daemon never decodes media), and what it heard is
kept as a compacted upload's is: the file is saved as the job's one plan chunk
(plan ``as-is``), its speech beside it in the job's work directory. From there
:class:`~dropscribe.jobs.chunking.coverage.SpeechCoverage` does what it does for
compacted uploads: the same coverage chunks, splice, restart rules and warning. No gap:
nothing runs. After a restart the saved chunk and speech are used, not heard again.
"""

from __future__ import annotations

import math
from pathlib import Path

import structlog

from dropscribe.audio.speech_files import read_speech, write_speech
from dropscribe.backends.base import Backend, CompactUploads, Failed
from dropscribe.config import RemoteSettings
from dropscribe.errors import BadInput, Retryable
from dropscribe.jobs.chunking.coverage import SpeechCoverage, Uploads, plan_chunks
from dropscribe.jobs.chunking.uploads import hear_speech
from dropscribe.jobs.store import Job
from dropscribe.jobs.store.chunks import NewChunk
from dropscribe.transcript import Transcription
from dropscribe.transcript.coverage import clip_stretched, missing_speech

log = structlog.get_logger("dropscribe.jobs.chunks")

#: The plan name of a file uploaded as it is, and the name its heard speech is kept by.
AS_IS = "as-is"
WHOLE = "original"


def leaves_a_gap(result: Transcription) -> bool:
    """Whether the words leave 1 s or more without a word anywhere in the recording
    (a length the server did not say counts as a gap at the end)."""
    duration = result.duration if result.duration is not None else math.inf
    words = clip_stretched(result.segments, [])
    return bool(missing_speech(words, [(0.0, duration)]))


def cover_as_is(
    uploads: Uploads, job: Job, backend: Backend, source: Path, result: Transcription
) -> Failed | Transcription | None:
    """``result`` with the coverage pass done when its words leave a gap (see the module
    docstring); a failure, or None when told to stop."""
    section = uploads.settings.backend_settings(job.backend)
    if not isinstance(section, RemoteSettings) or not section.recover_speech:
        return result
    if not isinstance(backend, CompactUploads) or not leaves_a_gap(result):
        return result  # cost zero: no worker is started
    try:
        heard_plan(uploads, job, section, source)
    except (BadInput, Retryable) as exc:
        # The words are in: a worker that cannot hear the file costs the pass, not them.
        log.warning("speech_not_heard", job=job.id, file=job.path, error=str(exc))
        return result
    uploads.store.chunks.resume(job.id, fresh_attempts=False)
    return SpeechCoverage(uploads, job, backend, source).run(result)


def heard_plan(uploads: Uploads, job: Job, section: RemoteSettings, source: Path) -> None:
    """Save the file as the job's one plan chunk with its speech beside it, unless a run
    before a restart did (its coverage chunks are kept then)."""
    workdir = uploads.workdir(job)
    planned = plan_chunks(uploads.store.chunks.for_job(job.id))
    kept = bool(planned) and planned[0].plan == AS_IS
    if kept and read_speech(workdir / WHOLE) is not None:
        return
    transcribe = uploads.settings.transcribe
    heard = hear_speech(
        source,
        section,
        max_duration=transcribe.max_duration_seconds,
        audio_track=transcribe.audio_track,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    write_speech(workdir / WHOLE, heard.speech)
    log.info("speech_heard", job=job.id, file=job.path, spans=len(heard.speech))
    if not kept:
        whole = NewChunk(0.0, heard.duration, 0.0, heard.duration, WHOLE, job.size)
        uploads.store.chunks.replace_plan(job.id, AS_IS, [whole])
