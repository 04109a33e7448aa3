"""Compact uploads, the daemon's side: what to send, and the worker that makes it.

The recording is decoded only in a worker process (:mod:`dropscribe.audio.compact`)
with a time limit and an address-space limit; the daemon reads back a small
manifest: the recording's duration and the files to upload, each with the span
of the recording it holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dropscribe.config import RemoteSettings
from dropscribe.config.backends import UploadFormat
from dropscribe.errors import BadInput, Retryable
from dropscribe.transcript import clock_time
from dropscribe.workers import PARENT_VARIABLE

#: Room kept for the JSON or multipart around the audio in a request body.
BODY_OVERHEAD = 4096


@dataclass(frozen=True)
class Part:
    """One file to upload and the stretch of the recording it holds (seconds)."""

    index: int
    start: float
    end: float
    keep_start: float
    keep_end: float
    path: str  # relative to the job's work directory
    bytes: int

    def label(self) -> str:
        """The part's time range as people read it: "10:00-20:00"."""
        return f"{clock_time(self.start)}-{clock_time(self.end)}"


@dataclass(frozen=True)
class Manifest:
    duration: float
    format: str
    parts: list[Part]
    #: The audio track the worker chose, as log fields.
    track: dict[str, Any] | None = None


def choose_format(setting: str, accepted: tuple[UploadFormat, ...]) -> UploadFormat | None:
    """Return the compact format to upload, or None to send the original as it is.

    ``auto`` is the first (smallest) format the protocol reads.
    """
    if setting == "original":
        return None
    if setting == "auto":
        return accepted[0]
    assert setting in ("opus", "flac", "mp3")
    return setting  # type: ignore[return-value]


def audio_bytes_within(body_limit: int, base64: bool) -> int:
    """Return how many bytes of audio fit in a request body of ``body_limit`` bytes."""
    room = max(1, body_limit - BODY_OVERHEAD)
    return room * 3 // 4 if base64 else room


def plan_key(fmt: str, audio_limit: int, max_seconds: float) -> str:
    """What a plan of parts depends on: a plan made under other settings is made again."""
    return f"{fmt}:{audio_limit}:{max_seconds:g}"


@dataclass(frozen=True)
class Resume:
    """Where a plan cut short by a restart goes on: the next part's audio start, its
    seam and its index (the parts before it are in the store)."""

    start: float
    keep_start: float
    index: int


def prepare(
    source: Path,
    workdir: Path,
    fmt: UploadFormat,
    *,
    audio_limit: int,
    section: RemoteSettings,
    max_duration: float,
    audio_track: int | str = "auto",
    parts: list[Part] | None = None,
    resume: Resume | None = None,
    on_part: Callable[[Part], None] | None = None,
    cancel: threading.Event | None = None,
    first_index: int = 0,
) -> Manifest:
    """Decode ``source`` in a worker and write its compact upload (in parts if needed).

    ``parts`` writes the parts of an earlier plan again (their files were lost), or
    the coverage pass's, named from ``first_index`` on; ``resume`` goes on with a plan
    cut short. ``on_part`` is called with each part
    as soon as the worker has written it, while it prepares the rest; ``cancel``
    stops the worker (the manifest is then an error).

    Raises:
        BadInput: the recording is unreadable, too long, or defeats the worker's limits.
        Retryable: the worker could not be started.
    """
    request: dict[str, Any] = {
        "source": str(source),
        "workdir": str(workdir),
        "format": fmt,
        "max_bytes": audio_limit,
        "max_seconds": section.max_chunk_seconds,
        "max_duration": max_duration,
        "audio_track": audio_track,
        "memory_mb": section.prepare_memory_mb,
        "concurrency": section.concurrency,
        # The coverage pass reads the speech heard beside each file (audio/speech_files.py).
        "speech": section.recover_speech,
        "parts": [
            {"start": p.start, "end": p.end, "keep_start": p.keep_start, "keep_end": p.keep_end}
            for p in parts or []
        ],
        "continue": asdict(resume) if resume else None,
        "first_index": first_index,
    }
    first = resume.index if resume else first_index
    streamed: list[Part] = []

    def heard(line: dict[str, Any]) -> None:
        streamed.append(part_from(first + len(streamed), line))
        if on_part is not None:
            on_part(streamed[-1])

    returncode, stdout, stderr = run_worker(
        json.dumps(request), section.prepare_timeout_seconds, heard, cancel
    )
    return read_manifest(returncode, stdout, stderr, parts, first)


def run_worker(
    request: str,
    timeout: float,
    on_part: Callable[[dict[str, Any]], None],
    cancel: threading.Event | None,
) -> tuple[int, str, str]:
    """Run the worker on ``request``; hand each part it announces to ``on_part`` as the
    line comes; return its exit status, its last line and its error output."""
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "dropscribe.audio.compact"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env={**os.environ, PARENT_VARIABLE: str(os.getpid())},
                text=True,
            )
        except OSError as exc:
            raise Retryable(f"The worker that prepares uploads could not start ({exc}).") from None
        with process:  # closes the pipes
            watch = Watch(process, timeout, cancel)
            try:
                last = read_lines(process, request, on_part)
                returncode = process.wait()
            finally:
                watch.done()
                if process.poll() is None:
                    process.kill()
                    process.wait()
        errors.seek(0)
        written = errors.read().decode(errors="replace")
    if watch.expired:
        raise BadInput(
            f"Preparing the upload took longer than {timeout:.0f} s and was stopped "
            "(prepare_timeout_seconds); check the recording, or raise the limit."
        )
    return returncode, last, written


def read_lines(
    process: subprocess.Popen[str], request: str, on_part: Callable[[dict[str, Any]], None]
) -> str:
    """Send the request; pass on each part line as it comes; return the last other line."""
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(request)
        process.stdin.close()
    except BrokenPipeError:  # the worker died at once: its exit status says why
        return ""
    last = ""
    for line in process.stdout:
        if line.startswith('{"part":'):
            on_part(json.loads(line)["part"])
        elif line.strip():
            last = line
    return last


class Watch:
    """Kills the worker past its time limit or when told to stop."""

    def __init__(
        self, process: subprocess.Popen[str], timeout: float, cancel: threading.Event | None
    ) -> None:
        self.process, self.expired = process, False
        self.cancel = cancel or threading.Event()
        self.finished = threading.Event()
        self.deadline = time.monotonic() + timeout
        threading.Thread(target=self._watch, name="prepare-watch", daemon=True).start()

    def _watch(self) -> None:
        while not self.finished.wait(0.1):
            if self.cancel.is_set() or time.monotonic() > self.deadline:
                self.expired = not self.cancel.is_set()
                self.process.kill()
                return

    def done(self) -> None:
        self.finished.set()


def part_from(index: int, data: dict[str, Any]) -> Part:
    return Part(
        index,
        float(data["start"]),
        float(data["end"]),
        float(data["keep_start"]),
        float(data["keep_end"]),
        str(data["path"]),
        int(data["bytes"]),
    )


def read_manifest(
    returncode: int, stdout: str, stderr: str, earlier: list[Part] | None, first: int = 0
) -> Manifest:
    """Return the worker's manifest, or raise its one-sentence error as BadInput."""
    try:
        answer = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    except ValueError:
        answer = {}
    if returncode != 0 or "parts" not in answer:
        if "error" in answer:
            raise BadInput(str(answer["error"]))
        what = f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
        tail = stderr.strip().splitlines()[-1][:200] if stderr.strip() else "no message"
        raise BadInput(
            f"The worker preparing the upload stopped on this file ({what}: {tail}); "
            "check that it is a complete recording in a supported format."
        )
    parts = [part_from(first + index, p) for index, p in enumerate(answer["parts"])]
    if earlier:
        return Manifest(earlier[-1].end, "", parts)
    return Manifest(float(answer["duration"]), str(answer["format"]), parts, answer.get("track"))
