"""The messages between the local engine and its worker processes.

Frozen dataclasses, sent as JSON lines (:mod:`dropscribe.workers.messages`).
The parent sends :class:`EngineOptions` first, then a :class:`Job` per file
and :class:`Stop` to end the worker; the worker answers with one
:data:`WorkerMessage` at a time::

    Ready | Fatal                       once, after loading the model
    TrackChosen -> Started -> Progress* -> Finished | JobFailed     per job

Every message the worker sends is acted on by the parent (DESIGN.md section 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dropscribe.transcript import Transcription

if TYPE_CHECKING:  # the worker process need not import the settings (pydantic)
    from dropscribe.config import LocalSettings


@dataclass(frozen=True)
class EngineOptions:
    """How a worker loads the model and decodes (from ``[backends.local]``)."""

    model_load: str
    model_name: str
    device: str
    compute_type: str
    cpu_threads: int
    parallel_decodes: int
    workers: int
    beam_size: int
    vad_filter: bool
    word_timestamps: bool
    initial_prompt: str | None
    batched: str
    batch_size: int
    #: ``vocabulary_as``: the terms in the initial prompt, or as hotwords.
    vocabulary_as: str = "prompt"
    #: ``respell_terms``: near misses of the terms written as the terms after decoding.
    respell_terms: bool = True

    @classmethod
    def from_settings(cls, settings: LocalSettings, model_load: str) -> EngineOptions:
        return cls(
            model_load=model_load,
            model_name=settings.model,
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            parallel_decodes=settings.parallel_decodes,
            workers=settings.workers,
            beam_size=settings.beam_size,
            vad_filter=settings.vad_filter,
            word_timestamps=settings.word_timestamps,
            initial_prompt=settings.initial_prompt,
            batched=settings.batched,
            batch_size=settings.batch_size,
            vocabulary_as=settings.vocabulary_as,
            respell_terms=settings.respell_terms,
        )


@dataclass(frozen=True)
class Job:
    job_id: int
    path: str
    language: str
    task: str
    max_duration: float
    #: ``transcribe.audio_track``: "auto", an index, or a language (audio/tracks.py).
    audio_track: int | str = "auto"
    #: A progress bar shows this job (see base.Request.watched).
    watched: bool = False
    #: The folder's terms ("Dashwood. Norland."), given as ``vocabulary_as`` says.
    terms: str | None = None
    #: The folder's prompt (else the engine-wide ``initial_prompt``).
    prompt: str | None = None


@dataclass(frozen=True)
class Stop:
    """Finish nothing more and exit (closing the pipe does not reach a worker blocked
    in ``recv`` while our own reader thread holds the other end)."""


@dataclass(frozen=True)
class Ready:
    pid: int
    multilingual: bool
    parallel_decodes: int
    threads_per_decode: int


@dataclass(frozen=True)
class Fatal:
    """The model could not be loaded; ``message`` is one sentence for the user."""

    message: str


@dataclass(frozen=True)
class TrackChosen:
    """The audio track of the file that is transcribed, and why (fields for the log)."""

    job_id: int
    fields: dict[str, object]


@dataclass(frozen=True)
class Started:
    job_id: int
    duration: float


@dataclass(frozen=True)
class Progress:
    """``seconds`` of the recording are transcribed (over all its parts)."""

    job_id: int
    seconds: float


@dataclass(frozen=True)
class Finished:
    job_id: int
    result: Transcription
    #: How it was decoded ("sequential", "batched", "parts", ...), for the log.
    decoding: str = "sequential"
    #: What the coverage pass found and did, for the log (None when nothing was missing).
    coverage: dict[str, object] | None = None


@dataclass(frozen=True)
class JobFailed:
    """``bad_input``: the file itself is at fault (permanent); else worth a retry."""

    job_id: int
    message: str
    bad_input: bool
    detail: str | None = None


WorkerMessage = Ready | Fatal | TrackChosen | Started | Progress | Finished | JobFailed
ParentMessage = Job | Stop
#: What the parent takes from a worker (anything else ends the worker).
WORKER_MESSAGES: tuple[type[WorkerMessage], ...] = (
    Ready,
    Fatal,
    TrackChosen,
    Started,
    Progress,
    Finished,
    JobFailed,
)
#: What a worker is sent once it has its options.
PARENT_MESSAGES: tuple[type[ParentMessage], ...] = (Job, Stop)
#: The answers that end a worker's start-up (a worker that cannot load says why).
STARTED: tuple[type[WorkerMessage], ...] = (Ready, Fatal)
