"""``dropscribe transcribe``: the configured engine on named files, now, with a progress bar.

Each file takes the daemon's path: the runner's upload limits, fallback, submit
and poll, and the retry policy's decisions (Retry-After honoured, server trouble
ridden out); only the waits happen here, in this process, instead of in the
job store. Sidecars are named as the daemon names them.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO, TypeVar, cast

import structlog

from dropscribe.backends.base import Done, Failed, Gone, Request
from dropscribe.backends.registry import create_backend
from dropscribe.commands.progress import AudioBar, BarSafeStream
from dropscribe.commands.remote_oneshot import UploadBar, cover_remote, transcribe_remote
from dropscribe.config import Settings
from dropscribe.errors import BadInput, DropscribeError, Retryable
from dropscribe.jobs.chunking.chunks import sends_chunks
from dropscribe.jobs.retry_policy import JobHistory, RetryRules, carry_out, give_back
from dropscribe.jobs.runner import BackendFactory, Runner
from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.document import build_document
from dropscribe.outbox.naming import sidecar_stem
from dropscribe.outbox.writer import Outbox
from dropscribe.service import logs
from dropscribe.sources import Vanished, hash_source
from dropscribe.speakers.runner import add_speakers, limits_for
from dropscribe.transcript import Transcription

log = structlog.get_logger("dropscribe.commands.oneshot")
_Result = TypeVar("_Result")


def output_names(files: list[Path]) -> list[str]:
    """Return the sidecar name of each file, by the daemon's rule (:func:`sidecar_stem`):
    the first file keeps its stem, a later one with the same stem keeps its extension
    (``a.wav``, ``a.mp3`` -> ``a``, ``a.mp3``). Files of one name from several folders,
    which an inbox cannot hold, are numbered beyond that."""
    taken: set[str] = set()
    names = []
    for path in files:
        name = base = sidecar_stem(path.name, taken.__contains__)
        number = 2
        while name in taken:
            name, number = f"{base}.{number}", number + 1
        taken.add(name)
        names.append(name)
    return names


def transcribe_files(
    settings: Settings,
    files: list[Path],
    out: Path,
    *,
    factory: BackendFactory = create_backend,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Transcribe ``files`` into ``out``; return 0 when all succeeded, else 1."""
    if sys.stderr.isatty():  # log lines above the bar, never through it
        stream = cast(TextIO, BarSafeStream(sys.stderr))  # write, flush, isatty: enough
        logs.configure(settings.log.level, settings.log.format, stream)
    runner = Runner(lambda: settings, clock=clock, factory=factory)
    outbox = Outbox(out, settings.transcribe.formats, CueRules.from_settings(settings.transcribe))
    failures = 0
    try:
        for number, (path, name) in enumerate(zip(files, output_names(files), strict=True), 1):
            try:
                written = _transcribe_one(settings, runner, outbox, number, path, name, sleep)
            except DropscribeError as exc:
                print(f"dropscribe: {path}: {exc}", file=sys.stderr)
                failures += 1
            else:
                print(f"{path} -> {', '.join(str(p) for p in written)}")
    finally:
        runner.close()
    return 1 if failures else 0


def _transcribe_one(
    settings: Settings,
    runner: Runner,
    outbox: Outbox,
    number: int,
    path: Path,
    name: str,
    sleep: Callable[[float], None],
) -> list[Path]:
    sha256, size = _identify(path)
    transcribe = settings.transcribe
    request = Request(
        number,
        path.resolve(),
        path.name,
        size,
        transcribe.language,
        transcribe.task,
        transcribe.max_duration_seconds,
        words=settings.words_for(path.name),
        watched=sys.stderr.isatty(),  # a bar is drawn: progress must come as it goes
    )
    chosen = runner.backend(transcribe.backend)
    if sends_chunks(settings, chosen, size):  # remote: compact chunks, as the daemon sends them
        bar = UploadBar(path.name) if sys.stderr.isatty() else None
        result = with_retries(
            lambda: transcribe_remote(settings, chosen, path, sha256, bar),
            RetryRules.from_settings(transcribe),
            runner.clock,
            sleep,
            path.name,
        )
        backend = chosen.name
    else:
        result, backend = run_to_outcome(
            runner, transcribe.backend, request, RetryRules.from_settings(transcribe), sleep
        )
        # Sent as it is: gaps in its words get the daemon's coverage pass (as_is.py).
        result = cover_remote(settings, runner.backend(backend), path, sha256, result)
    limits = limits_for(settings, path.name)  # no inbox folder here: [transcribe] decides
    if limits is not None:
        limit = transcribe.max_duration_seconds
        result = add_speakers(result, path.resolve(), limits, max_duration=limit)
    document = build_document(
        result, source_path=str(path), sha256=sha256, size=size, backend=backend
    )
    return outbox.write_transcript(name, document)


def _identify(path: Path) -> tuple[str, int]:
    """Return the file's hash and size, read as the daemon reads an inbox file.

    Raises:
        BadInput: a link, a folder, a pipe or device (the daemon's sentences), a missing
            or unreadable file.
    """
    try:
        return hash_source(path), os.lstat(path).st_size
    except (Vanished, FileNotFoundError) as exc:
        raise BadInput("does not exist; give the path of a recording.") from exc


def run_to_outcome(
    runner: Runner,
    backend: str,
    request: Request,
    rules: RetryRules,
    sleep: Callable[[float], None],
    rng: random.Random | None = None,
) -> tuple[Transcription, str]:
    """Try until a result, waiting as the retry policy says; return it and its backend.

    Raises:
        DropscribeError: what failed the file, once the policy says so.
    """

    def one_try() -> tuple[Transcription, str] | None:
        name = runner.route(backend, request.size)
        future = runner.submit(name, request)
        with AudioBar(request.relative_path) as bar:
            outcome = runner.wait(name, future, bar.update)
        if isinstance(outcome, Done):
            return outcome.result, name
        if isinstance(outcome, Failed):
            raise outcome.error
        if isinstance(outcome, Gone):
            return None  # not the file's fault: try again without counting it
        raise Retryable("The transcription was stopped before it had a result.")

    return with_retries(one_try, rules, runner.clock, sleep, request.relative_path, rng)


def with_retries(
    one_try: Callable[[], _Result | None],
    rules: RetryRules,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    label: str,
    rng: random.Random | None = None,
) -> _Result:
    """Call ``one_try`` until it returns a result, waiting between tries as the daemon's
    retry policy says (a None from it is a try that did not count).

    Raises:
        DropscribeError: what failed the file, once the policy says so.
    """
    rng = rng or random.Random()
    history = JobHistory(attempts=0)
    while True:
        history = replace(history, attempts=history.attempts + 1)
        try:
            result = one_try()
        except DropscribeError as error:
            now = clock()
            step = carry_out(history, error, now, rules, rng.random())
            if step.at is None:
                if step.error is error:
                    raise
                raise step.error from error
            history = replace(step.history, attempts=step.attempts)
            wait = round(step.at - now, 1)
            log.info("waiting_to_retry", file=label, error=str(error), seconds=wait)
            sleep(max(0.0, step.at - now))
            continue
        if result is not None:
            return result
        history = replace(history, attempts=give_back(history.attempts))
