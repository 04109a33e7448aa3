"""The transcript format of DESIGN.md section 4, and helpers to build it.

Backends return a :class:`Transcription` (segments with words, language,
duration, prediction time); :func:`build_document` adds the metadata that
makes it the ``<stem>.json`` sidecar. The JSON Schema ships beside this
module as ``schema/transcript.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

Word = dict[str, Any]
Segment = dict[str, Any]


def make_word(word: str, start: float, end: float, score: float | None) -> Word:
    """Return one word entry; ``speaker`` is null (no diarisation)."""
    return {
        "word": word.strip(),
        "start": round(float(start), 3),
        "end": round(float(end), 3),
        "score": None if score is None else round(float(score), 3),
        "speaker": None,
    }


def make_segment(text: str, start: float, end: float, words: list[Word]) -> Segment:
    return {
        "start": round(float(start), 3),
        "end": round(float(end), 3),
        "text": text,
        "words": words,
        "speaker": None,
    }


@dataclass
class Transcription:
    """What every backend returns, before the sidecar metadata is added."""

    segments: list[Segment]
    language: str | None
    duration: float | None
    prediction_time_ms: float
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(segment["text"] for segment in self.segments)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "segments": self.segments,
            "language": self.language,
            "duration": self.duration,
            "prediction_time_ms": self.prediction_time_ms,
            "model": self.model,
        }
        if "upload" in self.extra:  # what a remote backend was sent (compact, in chunks)
            data["upload"] = self.extra["upload"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcription:
        return cls(
            segments=data["segments"],
            language=data.get("language"),
            duration=data.get("duration"),
            prediction_time_ms=float(data.get("prediction_time_ms") or 0.0),
            model=data.get("model"),
            extra={"upload": data["upload"]} if data.get("upload") else {},
        )


def build_document(
    result: Transcription,
    *,
    source_path: str,
    sha256: str,
    size: int,
    backend: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Return the ``<stem>.json`` document for ``result``."""
    created = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    words = [word for segment in result.segments for word in segment["words"]]
    return {
        "transcription": result.text,
        "prediction_time_ms": round(result.prediction_time_ms, 1),
        "response": {"segments": result.segments, "word_segments": words},
        "language": result.language,
        "duration": None if result.duration is None else round(result.duration, 3),
        "source": {"path": source_path, "sha256": sha256, "bytes": size},
        "engine": {
            "backend": backend,
            "model": result.model,
            **({"upload": result.extra["upload"]} if "upload" in result.extra else {}),
        },
        "created_at": created,
    }


def load_schema() -> dict[str, Any]:
    """Return the transcript's JSON Schema."""
    text = resources.files("dropscribe").joinpath("schema/transcript.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
