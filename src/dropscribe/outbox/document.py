"""The ``<stem>.json`` document: a :class:`Transcription` tidied, with its metadata.

:func:`build_document` is the one point every engine's result passes through
on its way to the sidecars. The JSON Schema ships as
``schema/transcript.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any

from dropscribe.transcript import Document, EngineInfo, Transcription, iso_time
from dropscribe.transcript.coverage import clip_stretched
from dropscribe.transcript.segments import tidy_segments


def build_document(
    result: Transcription,
    *,
    source_path: str,
    sha256: str,
    size: int,
    backend: str,
    now: dt.datetime | None = None,
) -> Document:
    """Return the ``<stem>.json`` document for ``result``, its segments tidied and no
    word stretched over a gap."""
    created = iso_time((now or dt.datetime.now(dt.UTC)).timestamp())
    # Every engine's words, remote ones too, are clipped to a plausible length here; the
    # local engine also decoded the speech under them again (transcript/coverage.py).
    segments = tidy_segments(clip_stretched(result.segments, []))
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
