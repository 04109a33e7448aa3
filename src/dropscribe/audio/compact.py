"""Compact audio for upload, made in a worker process (untrusted media never decoded in the daemon).

The daemon runs ``python -m dropscribe.audio.compact`` with a JSON request on
stdin (:mod:`dropscribe.jobs.chunking.uploads` builds it) and reads a JSON manifest
from stdout. The worker limits its own memory first, then:

1. decodes the recording once, resampled to 16 kHz mono, streamed frame by
   frame; encodes it in the compact codec (until it proves longer than a
   chunk: then it goes in parts anyway) and finds the speech in it;
2. when the compact file is over the byte limit or longer than the chunk
   limit, decodes the original again and writes each part, cut at pauses by
   :func:`dropscribe.audio.cuts.plan_parts`, to a file of its own.

Memory stays flat: frames are encoded as they come; the voice detector sees
blocks of a few minutes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.decode import MediaReader, check_complete, open_media
from dropscribe.audio.speech_blocks import SpeechFinder
from dropscribe.errors import BadInput
from dropscribe.workers import die_with_the_daemon, limit_memory

#: prctl option: the signal this process gets when its parent thread ends.
#: Codec, container, file suffix and bit rate of each compact format.
CODECS: dict[str, tuple[str, str, str, int | None]] = {
    "opus": ("libopus", "ogg", ".ogg", 24_000),
    "mp3": ("libmp3lame", "mp3", ".mp3", 24_000),
    "flac": ("flac", "flac", ".flac", None),
}
#: Parts found over the byte limit (a variable bit rate) are planned again this much shorter.
REPLAN_FACTOR = 0.8


@dataclass(frozen=True)
class PartFile:
    start: float
    end: float
    keep_start: float
    keep_end: float
    path: str
    bytes: int


class TrackLog:
    """Where the chosen track is noted, for the manifest."""

    fields: dict[str, object] | None = None


def pcm_pieces(
    source: str, max_duration: float, audio_track: Any, track: TrackLog | None = None
) -> Iterator[np.ndarray[Any, np.dtype[np.int16]]]:
    """Yield the chosen audio track of ``source`` as 16 kHz mono int16 pieces.

    The media helper's :class:`MediaReader` reads it (links refused, the track chosen
    by rule, headers checked, the duration limit enforced as it decodes).

    Raises:
        BadInput: not audio, no audio track, empty, truncated or too long.
    """
    decoded = 0
    with (
        open_media(Path(source)) as stream,
        MediaReader(stream, max_duration, audio_track) as reader,
    ):
        if track is not None:
            track.fields = reader.choice.log_fields()
        for piece in reader.pieces():
            decoded += len(piece)
            yield (np.clip(piece, -1.0, 1.0) * 32767).astype(np.int16)
        check_complete(decoded / SAMPLE_RATE, reader.claim)


class Encoder:
    """One compact output file, fed int16 samples in any block size."""

    def __init__(self, path: Path, fmt: str) -> None:
        codec, container_format, _, bit_rate = CODECS[fmt]
        self.path = path
        self.container = av.open(str(path), "w", format=container_format)
        stream: Any = self.container.add_stream(codec, rate=SAMPLE_RATE)
        self.stream = stream
        self.stream.layout = "mono"
        self.stream.format = "s16"
        if bit_rate:
            self.stream.bit_rate = bit_rate
        self.fifo = av.AudioFifo()
        self.pts = 0

    def write(self, samples: np.ndarray[Any, np.dtype[np.int16]]) -> None:
        if not len(samples):
            return
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.pts
        self.pts += len(samples)
        self.fifo.write(frame)
        self._drain(final=False)

    def _drain(self, final: bool) -> None:
        size = self.stream.codec_context.frame_size or 1024
        while self.fifo.samples >= size or (final and self.fifo.samples):
            frame = self.fifo.read(min(size, self.fifo.samples))
            if frame is None:
                break
            self.container.mux(self.stream.encode(frame))

    def close(self) -> int:
        """Flush and close; return the file's size in bytes."""
        self._drain(final=True)
        self.container.mux(self.stream.encode(None))
        self.container.close()
        return self.path.stat().st_size


def compact(request: dict[str, Any]) -> dict[str, Any]:
    """Do what ``request`` asks (see the module docstring) and return the manifest."""
    source, workdir, fmt = request["source"], Path(request["workdir"]), request["format"]
    max_bytes: int = request["max_bytes"]
    max_seconds: float = request["max_seconds"]
    max_duration: float = request["max_duration"]
    track = request.get("audio_track", "auto")
    workdir.mkdir(parents=True, exist_ok=True)
    if request.get("parts"):  # parts planned before (a restart): write the same ones again
        again = write_parts(source, workdir, fmt, request["parts"], max_duration, track)
        return {"parts": [asdict(p) for p in again]}
    finder = SpeechFinder(hold_seconds=min(max_seconds, 600.0))
    whole: Encoder | None = Encoder(workdir / f"whole{CODECS[fmt][2]}", fmt)
    rate = 0.0  # bytes per second of the compact audio
    samples = 0
    chosen = TrackLog()
    for block in pcm_pieces(source, max_duration, track, chosen):
        samples += len(block)
        long_enough = samples / SAMPLE_RATE > max_seconds
        if whole is not None:
            whole.write(block)
            if long_enough:
                # It goes in parts anyway: stop encoding it whole (pass 2 encodes the parts);
                # what was written gives the bit rate the parts are planned with.
                rate = whole.close() / (samples / SAMPLE_RATE)
                whole.path.unlink(missing_ok=True)
                whole = None
        finder.feed(block, needed=long_enough)
    duration = samples / SAMPLE_RATE
    manifest: dict[str, Any] = {"duration": duration, "format": fmt, "track": chosen.fields}
    if whole is not None:
        size = whole.close()
        rate = size / duration
        if size <= max_bytes:
            part = PartFile(0.0, duration, 0.0, duration, whole.path.name, size)
            manifest["parts"] = [asdict(part)]
            return manifest
        whole.path.unlink(missing_ok=True)
    speech = finder.finish()
    # Seconds that fit under the byte limit at the bit rate just measured.
    limit = min(max_seconds, max_bytes / rate * 0.95)
    for _ in range(4):
        parts = plan(speech, duration, limit)
        written = write_parts(source, workdir, fmt, parts, max_duration, track)
        largest = max(part.bytes for part in written)
        if largest <= max_bytes:
            break
        limit *= REPLAN_FACTOR * max_bytes / largest
    else:
        raise BadInput(
            f"The recording could not be cut into parts under {max_bytes} bytes; "
            "raise the backend's max_upload_bytes or choose a smaller upload_format."
        )
    manifest["parts"] = [asdict(part) for part in written]
    return manifest


def plan(
    speech: list[tuple[float, float]], duration: float, limit: float
) -> list[dict[str, float]]:
    from dropscribe.audio.cuts import plan_parts

    parts = plan_parts(speech, duration, max_seconds=max(limit, 2.0))
    return [
        {"start": p.start, "end": p.end, "keep_start": p.keep_start, "keep_end": p.keep_end}
        for p in parts
    ]


def write_parts(
    source: str,
    workdir: Path,
    fmt: str,
    parts: list[dict[str, float]],
    max_duration: float,
    track: Any,
) -> list[PartFile]:
    """Decode ``source`` again and write each part (they may overlap a little) to its file."""
    suffix = CODECS[fmt][2]
    open_parts: dict[int, Encoder] = {}
    sizes: dict[int, int] = {}
    position = 0  # samples decoded so far
    for block in pcm_pieces(source, max_duration, track):
        block_start, block_end = position, position + len(block)
        position = block_end
        for index, part in enumerate(parts):
            first, last = round(part["start"] * SAMPLE_RATE), round(part["end"] * SAMPLE_RATE)
            if index in sizes or first >= block_end:
                continue
            if index not in open_parts:
                open_parts[index] = Encoder(workdir / f"part-{index:04d}{suffix}", fmt)
            open_parts[index].write(block[max(0, first - block_start) : max(0, last - block_start)])
            if last <= block_end:
                sizes[index] = open_parts.pop(index).close()
    for index, encoder in open_parts.items():
        sizes[index] = encoder.close()
    return [
        PartFile(
            p["start"], p["end"], p["keep_start"], p["keep_end"], f"part-{i:04d}{suffix}", sizes[i]
        )
        for i, p in enumerate(parts)
    ]


def main() -> int:
    die_with_the_daemon()
    request = json.loads(sys.stdin.read())
    limit_memory(int(request.get("memory_mb", 0)))
    try:
        manifest = compact(request)
    except BadInput as exc:
        print(json.dumps({"error": str(exc)}))
        return 3
    except MemoryError:
        print(json.dumps({"error": "Preparing the upload ran out of its memory limit."}))
        return 3
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
