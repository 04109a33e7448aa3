"""The transcript format of DESIGN.md section 4, its types, and helpers to build it.

Backends return a :class:`Transcription` (segments with words, language,
duration, prediction time, warnings); :func:`build_document` tidies its
segments (the one point every engine's result passes through on its way to
the sidecars) and adds the metadata that makes it the ``<stem>.json``
sidecar. The JSON Schema ships beside this module as
``schema/transcript.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
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
    """One speaker's label and total speaking time."""

    label: str
    seconds: float


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


def build_document(
    result: Transcription,
    *,
    source_path: str,
    sha256: str,
    size: int,
    backend: str,
    now: dt.datetime | None = None,
) -> Document:
    """Return the ``<stem>.json`` document for ``result``, its segments tidied."""
    from dropscribe.outbox.segments import tidy_segments

    created = iso_time((now or dt.datetime.now(dt.UTC)).timestamp())
    segments = tidy_segments(result.segments)
    words = [word for segment in segments for word in segment["words"]]
    engine: EngineInfo = {"backend": backend, "model": result.model}
    if result.upload is not None:
        engine["upload"] = result.upload
    document: Document = {
        "transcription": "".join(segment["text"] for segment in segments),
        "prediction_time_ms": round(result.prediction_time_ms, 1),
        "response": {"segments": segments, "word_segments": words},
        "language": result.language,
        "duration": None if result.duration is None else round(result.duration, 3),
        "source": {"path": source_path, "sha256": sha256, "bytes": size},
        "engine": engine,
        "created_at": created,
        "warnings": list(result.warnings),
    }
    if result.speakers is not None:
        document["speakers"] = result.speakers
    return document


def load_schema() -> dict[str, Any]:
    """Return the transcript's JSON Schema."""
    text = resources.files("dropscribe").joinpath("schema/transcript.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
