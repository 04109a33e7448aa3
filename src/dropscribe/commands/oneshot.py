"""``dropscribe transcribe``: the configured engine on named files, now, with a progress bar."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Never

from tqdm import tqdm

from dropscribe.backends import create_backend
from dropscribe.backends.base import Backend, Done, Failed, Gone, Pending, Request
from dropscribe.commands.remote_oneshot import UploadBar, transcribe_remote
from dropscribe.config import Settings
from dropscribe.errors import DropscribeError, Retryable
from dropscribe.inbox.intake import hash_file
from dropscribe.jobs.chunks import sends_chunks
from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.transcript import Transcription, build_document
from dropscribe.outbox.writer import Outbox


def transcribe_files(settings: Settings, files: list[Path], out: Path) -> int:
    """Transcribe ``files`` into ``out``; return 0 when all succeeded, else 1."""
    backend = create_backend(settings.transcribe.backend, settings)
    outbox = Outbox(out, settings.transcribe.formats, CueRules.from_settings(settings.transcribe))
    failures = 0
    try:
        for number, path in enumerate(files, start=1):
            try:
                written = _transcribe_one(settings, backend, outbox, number, path)
            except DropscribeError as exc:
                print(f"dropscribe: {path}: {exc}", file=sys.stderr)
                failures += 1
            else:
                print(f"{path} -> {', '.join(str(p) for p in written)}")
    finally:
        backend.close()
    return 1 if failures else 0


def _transcribe_one(
    settings: Settings, backend: Backend, outbox: Outbox, number: int, path: Path
) -> list[Path]:
    from dropscribe.errors import BadInput

    if not path.is_file():
        raise BadInput("is not a file; give the path of a recording.")
    sha256 = hash_file(path)
    size = path.stat().st_size
    request = Request(
        number,
        path.resolve(),
        path.name,
        size,
        settings.transcribe.language,
        settings.transcribe.task,
    )
    if sends_chunks(settings, backend, size):  # remote: compact chunks, as the daemon sends them
        bar = UploadBar(path.name) if sys.stderr.isatty() else None
        result = transcribe_remote(settings, backend, path, sha256, bar)
        attempts = 0
    else:
        attempts = settings.transcribe.max_attempts
    for attempt in range(1, attempts + 1):
        try:
            result = _run(backend, request, path.name)
            break
        except Retryable:
            if attempt == attempts:
                raise
            time.sleep(min(30.0, settings.transcribe.retry_base_seconds * 2 ** (attempt - 1)))
    document = build_document(
        result, source_path=str(path), sha256=sha256, size=size, backend=backend.name
    )
    return outbox.write_transcript(path.stem, document)


def _run(backend: Backend, request: Request, label: str) -> Transcription:
    future = backend.submit(request)
    polls = 0
    bar: tqdm[Never] | None = None  # drawn once the audio's duration is known
    duration = 0.0
    try:
        while True:
            delay = backend.poll_delay(polls)
            if delay:
                time.sleep(delay)
            outcome = backend.poll(future, 0.2)
            polls += 1
            if isinstance(outcome, Pending):
                if outcome.duration and bar is None and sys.stderr.isatty():
                    duration = outcome.duration
                    bar = tqdm(
                        total=duration,
                        desc=label,
                        unit="s",
                        leave=False,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s audio",
                    )
                if bar is not None and outcome.position is not None:
                    bar.n = min(outcome.position, duration)
                    bar.refresh()
                continue
            if isinstance(outcome, Done):
                return outcome.result
            if isinstance(outcome, Failed):
                raise outcome.error
            if isinstance(outcome, Gone):
                future = backend.submit(request)
    finally:
        if bar is not None:
            bar.close()
