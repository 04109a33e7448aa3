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
from dataclasses import dataclass
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
) -> Manifest:
    """Decode ``source`` in a worker and write its compact upload (in parts if needed).

    ``parts`` writes the parts of an earlier plan again (their files were lost).

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
        "parts": [
            {"start": p.start, "end": p.end, "keep_start": p.keep_start, "keep_end": p.keep_end}
            for p in parts or []
        ],
    }
    timeout = section.prepare_timeout_seconds
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "dropscribe.audio.compact"],
            input=json.dumps(request),
            env={**os.environ, PARENT_VARIABLE: str(os.getpid())},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BadInput(
            f"Preparing the upload took longer than {timeout:.0f} s and was stopped "
            "(prepare_timeout_seconds); check the recording, or raise the limit."
        ) from None
    except OSError as exc:
        raise Retryable(f"The worker that prepares uploads could not start ({exc}).") from None
    return read_manifest(finished.returncode, finished.stdout, finished.stderr, parts)


def read_manifest(
    returncode: int, stdout: str, stderr: str, earlier: list[Part] | None
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
    parts = [
        Part(
            index,
            float(p["start"]),
            float(p["end"]),
            float(p["keep_start"]),
            float(p["keep_end"]),
            str(p["path"]),
            int(p["bytes"]),
        )
        for index, p in enumerate(answer["parts"])
    ]
    if earlier:
        return Manifest(earlier[-1].end, "", parts)
    return Manifest(float(answer["duration"]), str(answer["format"]), parts, answer.get("track"))
