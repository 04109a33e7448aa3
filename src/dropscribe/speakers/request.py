"""What diarization is asked and answers: the messages of the speaker worker.

Frozen dataclasses, sent as JSON lines (:mod:`dropscribe.workers.messages`).
The daemon (:mod:`.runner`) sends one :class:`DiarizeRequest`; the worker
(:mod:`.worker`) answers ``Ready -> Labelled | DiarizeFailed``.

No numpy here: the daemon imports this module, and the worker is started with
its thread limits in the environment, before numpy loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from dropscribe.config.defaults import DEFAULT_MAX_DURATION_SECONDS
from dropscribe.transcript import Segment
from dropscribe.workers.messages import Ready

Span = tuple[float, float]


@dataclass(frozen=True)
class CountLimits:
    """How speakers are labelled: ``speakers`` forces a count when above 0; otherwise it
    lies in [minimum, maximum]; ``voices``, when set, is the folder that names them.

    All of it is part of the key under which a labelled result is reused."""

    speakers: int = 0
    minimum: int = 1
    maximum: int = 8
    voices: str = ""


def word_times(segments: list[Segment]) -> list[Span]:
    """Return the (start, end) of every word of ``segments``, in order."""
    return [(float(w["start"]), float(w["end"])) for s in segments for w in s["words"]]


@dataclass(frozen=True)
class DiarizeRequest:
    """What the worker needs: the audio, the words' times, the count settings."""

    audio_path: str
    spans: list[Span]
    limits: CountLimits
    weights_path: str | None = None
    max_duration: float = DEFAULT_MAX_DURATION_SECONDS


class SpeakerDetail(TypedDict, total=False):
    """What the transcript's ``speakers[]`` says of a label beyond its time."""

    #: The label is an enrolled person's name (a voices folder is set).
    enrolled: bool
    #: The best match's similarity.
    score: float | None
    #: The channel that carried the voice (1 left, 2 right) of a stereo call.
    channel: int


@dataclass(frozen=True)
class Labelled:
    """A label per word (None where none fits), and the details of each label."""

    labels: list[str | None]
    speakers: int
    details: dict[str, SpeakerDetail] = field(default_factory=dict)
    #: A sentence for the transcript's warnings when the labels stand but naming failed.
    note: str | None = None


@dataclass(frozen=True)
class DiarizeFailed:
    """Diarization failed inside the worker; ``message`` is one sentence."""

    message: str


DiarizeAnswer = Ready | Labelled | DiarizeFailed
#: What the daemon takes from the worker (anything else ends it).
ANSWERS: tuple[type[DiarizeAnswer], ...] = (Ready, Labelled, DiarizeFailed)


def sentence(exc: object) -> str:
    """Return what went wrong as a sentence (ending in a full stop)."""
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else text + "."
