"""Diarization in a worker process, so that nothing it does can fail a job.

The worker decodes the audio, loads the encoder and labels the words; the
caller gets the labels, or none and a warning sentence when the worker
failed, died or ran past its time. :func:`add_speakers` is the one call the
pipeline makes: it never raises for what happens inside.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from dropscribe.speakers.request import (
    ANSWERS,
    CountLimits,
    DiarizeAnswer,
    DiarizeFailed,
    DiarizeRequest,
    Labelled,
    SpeakerDetail,
    sentence,
    word_times,
)
from dropscribe.transcript import SpeakerTime, Transcription
from dropscribe.transcript.segments import label_speakers
from dropscribe.workers.messages import MessageError, Ready
from dropscribe.workers.spawn import Worker

if TYPE_CHECKING:
    from dropscribe.config import Settings

log = structlog.get_logger(__name__)
SKIPPED = "Speaker labels were skipped"
#: How often a waiting caller looks at its stop event.
STOP_CHECK_SECONDS = 0.5
#: What the worker runs, and what the sentences about it call it.
DIARIZE_TARGET = "dropscribe.speakers.worker:main"
WHAT = "speaker worker"


class DiarizationInterrupted(Exception):
    """The daemon is stopping: the worker was ended and the transcript left as saved,
    to be labelled after the restart."""


@dataclass(frozen=True)
class DiarizeOutcome:
    """Labels, one per word (None everywhere with a warning when diarization failed), and
    what ``speakers[]`` says of each label beyond its time (enrolled, score, channel)."""

    labels: list[str | None]
    speakers: int
    warning: str | None
    seconds: float
    details: dict[str, SpeakerDetail] = dataclasses.field(default_factory=dict)
    #: A sentence for the transcript's warnings when the labels stand but naming failed.
    note: str | None = None


def limits_for(settings: Settings, relative_path: str) -> CountLimits | None:
    """Return how to count the speakers of the inbox file at ``relative_path``; None
    when its folder (or ``[transcribe]``) leaves speaker labels off."""
    transcribe = settings.transcribe
    override = settings.folder_override(relative_path)
    wanted = override.diarize if override.diarize is not None else transcribe.diarize
    if not wanted:
        return None
    speakers = override.speakers if override.speakers is not None else transcribe.speakers
    voices = override.voices if override.voices is not None else transcribe.voices
    return CountLimits(speakers, transcribe.min_speakers, transcribe.max_speakers, voices)


def setup_problem(settings: Settings) -> str | None:
    """Return why speaker labels, asked for somewhere in ``settings``, cannot work; None
    when they are not asked for or the weights load (for ``dropscribe check``)."""
    asked = settings.transcribe.diarize or any(o.diarize for o in settings.folders.values())
    if not asked:
        return None
    from dropscribe.speakers.weights import WeightsError, load_weights

    try:
        load_weights()
    except WeightsError as exc:
        return f"transcribe.diarize: {exc}"
    folders = [settings.transcribe.voices, *(o.voices or "" for o in settings.folders.values())]
    for folder in filter(None, folders):
        if not Path(folder).is_dir():
            return (
                f"transcribe.voices: {folder} is not a folder; make it, with one sub-folder "
                "of recordings per person (voices/Alice/call.wav), or leave voices empty"
            )
    if any(folders):
        from dropscribe.speakers.campplus import default_naming_weights

        try:
            default_naming_weights()
        except WeightsError as exc:
            return f"transcribe.voices: {exc}"
    return None


def diarization_timeout(duration: float | None) -> float:
    """Return how long diarization of a recording of ``duration`` seconds may take:
    a minute to start, plus ten times the measured real-time factor's worst case."""
    return 60.0 + 0.5 * (duration or 0.0)


def add_speakers(
    result: Transcription,
    audio_path: Path,
    limits: CountLimits,
    *,
    max_duration: float,
    stopping: threading.Event | None = None,
    label: str | None = None,
) -> Transcription:
    """Return ``result`` with speaker labels, or unchanged but for a warning sentence
    (``label``: the file as the log names it, its path in the inbox; default the path).

    A result that already has labels, or a warning from an earlier try, is returned as
    it is (a job resumed after a restart is not diarized twice).

    Raises:
        DiarizationInterrupted: ``stopping`` was set while the worker ran.
    """
    spans = word_times(result.segments)
    done_before = any(warning.startswith(SKIPPED) for warning in result.warnings)
    if not spans or result.speakers is not None or done_before:
        return result
    request = DiarizeRequest(str(audio_path), spans, limits, max_duration=max_duration)
    # A remote engine may not say how long the audio is: the last word tells nearly.
    duration = result.duration or max(end for _, end in spans)
    outcome = run_diarization(request, diarization_timeout(duration), stopping)
    log.info(
        "diarized",
        file=label if label is not None else str(audio_path),
        speakers=outcome.speakers,
        seconds=round(outcome.seconds, 2),
        warning=outcome.warning,
    )
    return with_outcome(result, outcome)


def with_outcome(result: Transcription, outcome: DiarizeOutcome) -> Transcription:
    """Return ``result`` labelled by ``outcome``, or with its warning added."""
    if outcome.warning is not None:
        return dataclasses.replace(result, warnings=[*result.warnings, outcome.warning])
    labelled = label_speakers(result, outcome.labels)
    speakers = [
        SpeakerTime(**entry, **outcome.details.get(entry["label"], {}))
        for entry in labelled.speakers or []
    ]
    warnings = [*labelled.warnings, outcome.note] if outcome.note else labelled.warnings
    return dataclasses.replace(labelled, speakers=speakers, warnings=warnings)


def skipped(result: Transcription, reason: object) -> Transcription:
    """Return ``result`` with a warning that its speakers were not labelled, and why."""
    warning = f"{SKIPPED}: {sentence(reason)}"
    return dataclasses.replace(result, warnings=[*result.warnings, warning])


def run_diarization(
    request: DiarizeRequest,
    timeout: float,
    stopping: threading.Event | None = None,
    target: str = DIARIZE_TARGET,
) -> DiarizeOutcome:
    """Return the speaker labels of ``request``'s words, computed in a worker process
    (``target`` is another program only for a test of a misbehaving worker).

    Raises:
        DiarizationInterrupted: ``stopping`` was set while the worker ran.
    """
    started = time.monotonic()
    blank: list[str | None] = [None] * len(request.spans)
    try:
        # This thread waits for it, so it may die with this thread. A daemon stopping
        # mid-diarization does not wait for it either: the job stays in writing with its
        # transcript saved, and is labelled after a restart.
        worker = Worker(target, what=WHAT, ready=(Ready,), with_thread=True, env=THREAD_LIMITS)
    except OSError as exc:
        return DiarizeOutcome(blank, 0, f"{SKIPPED}: the {WHAT} could not start ({exc}).", 0.0)
    try:
        answer = _wait(worker, request, started + timeout, stopping or threading.Event())
    finally:
        worker.close()
    elapsed = time.monotonic() - started
    if isinstance(answer, DiarizeFailed):
        return DiarizeOutcome(blank, 0, f"{SKIPPED}: {answer.message}", elapsed)
    if answer is not None and len(answer.labels) != len(blank):
        worker.failure = f"The {WHAT} labelled {len(answer.labels)} words of {len(blank)}."
        answer = None
    if answer is None:
        return DiarizeOutcome(blank, 0, f"{SKIPPED}: {_why(worker, elapsed, timeout)}", elapsed)
    return DiarizeOutcome(
        answer.labels, answer.speakers, None, elapsed, answer.details, answer.note
    )


def _why(worker: Worker, elapsed: float, timeout: float) -> str:
    """Return why the worker gave no labels, as the end of a warning sentence."""
    if elapsed >= timeout:
        return f"the speaker model took longer than {timeout:.0f} s."
    if worker.failure is not None:
        return worker.failure[0].lower() + worker.failure[1:]
    return f"the speaker worker stopped (exit code {worker.exit_code})."


#: One BLAS thread: the encoder's matrix products are small (a batch of windows
#: times 256x1024), and OpenBLAS's threads spend more CPU waiting on each other than
#: they save: 0.5 s of CPU instead of 3.6 s for 141 s of speech (bench/README.md).
#: It also leaves the other cores to the transcriptions running meanwhile.
THREAD_LIMITS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _wait(
    worker: Worker, request: DiarizeRequest, deadline: float, stopping: threading.Event
) -> Labelled | DiarizeFailed | None:
    """Send the request; return the worker's answer, None when it died, said what its
    protocol does not know, or the deadline passed."""
    try:
        worker.send(request)
    except OSError:  # it died at once: its exit code says why
        return None
    while not stopping.is_set():
        left = deadline - time.monotonic()
        if worker.poll(max(0.0, min(left, STOP_CHECK_SECONDS))):
            answer = _next_answer(worker)
            if not isinstance(answer, Ready):
                return answer
        elif left <= STOP_CHECK_SECONDS:
            return None
    raise DiarizationInterrupted


def _next_answer(worker: Worker) -> DiarizeAnswer | None:
    try:
        return worker.receive(ANSWERS)
    except MessageError:
        worker.stop_for(f"The {WHAT} sent a message that is not of its protocol and was stopped.")
        return None
