"""The speech the upload worker heard, kept beside each file it wrote for the coverage pass.

The worker that compacts a recording for a remote engine (:mod:`dropscribe.audio.compact`)
already runs the voice detector to cut at pauses. With ``"speech": true`` in its
request it runs it over all the audio and writes, beside each upload file
(``part-0003.ogg``), the spans it heard (``part-0003.speech.json``: seconds on that
file's own clock, as the engine's words come back). The daemon reads them once the
engine's words are in (:mod:`dropscribe.jobs.chunking.coverage`) to find speech that no
word covers, without decoding the recording a second time. The files live in the
job's work directory, so they survive a restart with the chunks they belong to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from dropscribe.audio.cuts import Span

SUFFIX = ".speech.json"


def speech_path(upload: Path) -> Path:
    """Where the speech of the upload file ``upload`` is kept."""
    return upload.with_name(upload.name.rsplit(".", 1)[0] + SUFFIX)


def write_speech(upload: Path, spans: Sequence[Span]) -> None:
    """Keep ``spans`` (seconds on ``upload``'s clock) beside ``upload``, atomically."""
    target = speech_path(upload)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps([[round(a, 3), round(b, 3)] for a, b in spans]))
    temporary.replace(target)


def read_speech(upload: Path) -> list[Span] | None:
    """The speech kept beside ``upload``, or None where none was kept (or it is damaged)."""
    try:
        data = json.loads(speech_path(upload).read_text())
        return [(float(a), float(b)) for a, b in data]
    except (OSError, ValueError, TypeError):
        return None


def within(spans: Sequence[Span], start: float, end: float) -> list[Span]:
    """The parts of ``spans`` (seconds on the recording's clock) inside ``[start, end)``,
    on the clock of a file whose audio begins at ``start``."""
    return [
        (round(max(a, start) - start, 3), round(min(b, end) - start, 3))
        for a, b in spans
        if b > start and a < end
    ]


def rename_with_speech(old: Path, new: Path) -> None:
    """Rename an upload file and the speech kept beside it."""
    old.rename(new)
    if speech_path(old).exists():
        speech_path(old).rename(speech_path(new))
