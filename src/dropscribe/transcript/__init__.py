"""The transcript vocabulary every layer shares: the types of DESIGN.md section 4.

Backends return a :class:`Transcription` (segments with words, language,
duration, prediction time, warnings); :mod:`.segments` tidies and labels them;
:func:`dropscribe.outbox.document.build_document` makes the ``<stem>.json``
sidecar of it. How every file and report shows a time lives here too
(:func:`iso_time`, :func:`clock_time`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, overload


class Word(TypedDict):
    """One word with its time in seconds; ``score`` is the engine's confidence."""

    word: str
    start: float
    end: float
    score: float | None
    speaker: str | None


class Segment(TypedDict):
    """A stretch of speech: about a sentence, or less (see :mod:`.segments`)."""

    start: float
    end: float
    text: str
    words: list[Word]
    speaker: str | None


class SpeakerTime(TypedDict):
    """One speaker's label and total speaking time; with diarization since issue 22, also
    whether the label is an enrolled person's name, the best match's similarity, and
    the channel that carried the voice (a stereo call labelled by channel)."""

    label: str
    seconds: float
    enrolled: NotRequired[bool]
    score: NotRequired[float | None]
    channel: NotRequired[int]


class Response(TypedDict):
    segments: list[Segment]
    word_segments: list[Word]


class Source(TypedDict):
    path: str
    sha256: str
    bytes: int


class UploadInfo(TypedDict):
    format: str
    bytes: int
    chunks: int


class EngineInfo(TypedDict):
    backend: str
    model: str | None
    #: What a remote backend was sent: its format, bytes and chunks (absent for the local engine).
    upload: NotRequired[UploadInfo]


class Document(TypedDict):
    """The ``<stem>.json`` sidecar, key for key."""

    transcription: str
    prediction_time_ms: float
    response: Response
    language: str | None
    duration: float | None
    source: Source
    engine: EngineInfo
    created_at: str
    warnings: list[str]
    speakers: NotRequired[list[SpeakerTime]]


def make_word(
    word: str, start: float, end: float, score: float | None, speaker: str | None = None
) -> Word:
    """Return one word entry; ``speaker`` is null unless diarization labelled it."""
    return {
        "word": word.strip(),
        "start": round(float(start), 3),
        "end": round(float(end), 3),
        "score": None if score is None else round(float(score), 3),
        "speaker": speaker,
    }


def make_segment(
    text: str, start: float, end: float, words: list[Word], speaker: str | None = None
) -> Segment:
    return {
        "start": round(float(start), 3),
        "end": round(float(end), 3),
        "text": text,
        "words": words,
        "speaker": speaker,
    }


@dataclass
class Transcription:
    """What every backend returns, before the sidecar metadata is added.

    ``warnings`` are sentences saying why the transcript may be wrong;
    ``speakers`` is None until diarization labelled the words.
    """

    segments: list[Segment]
    language: str | None
    duration: float | None
    prediction_time_ms: float
    model: str | None = None
    #: What a remote backend was sent, when not the original file.
    upload: UploadInfo | None = None
    warnings: list[str] = field(default_factory=list)
    speakers: list[SpeakerTime] | None = None

    @property
    def text(self) -> str:
        return "".join(segment["text"] for segment in self.segments)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "segments": self.segments,
            "language": self.language,
            "duration": self.duration,
            "prediction_time_ms": self.prediction_time_ms,
            "model": self.model,
            "warnings": self.warnings,
        }
        if self.speakers is not None:
            data["speakers"] = self.speakers
        if self.upload is not None:
            data["upload"] = self.upload
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcription:
        """Return the transcription :meth:`to_dict` (or the engine worker) gave.

        Results stored before ``warnings`` existed have none.
        """
        return cls(
            segments=data["segments"],
            language=data.get("language"),
            duration=data.get("duration"),
            prediction_time_ms=float(data.get("prediction_time_ms") or 0.0),
            model=data.get("model"),
            warnings=[str(warning) for warning in data.get("warnings") or []],
            speakers=data.get("speakers"),
            upload=data.get("upload") or None,
        )


@overload
def iso_time(epoch: float) -> str: ...
@overload
def iso_time(epoch: None) -> None: ...
@overload
def iso_time(epoch: float | None) -> str | None: ...
def iso_time(epoch: float | None) -> str | None:
    """Return ``epoch`` (seconds) as every file and report of dropscribe shows a time:
    UTC, ISO 8601, to the second (``2026-01-02T03:04:05Z``); None stays None."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_time(seconds: float) -> str:
    """Return ``seconds`` as a time of the recording: m:ss, or h:mm:ss from an hour on."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
