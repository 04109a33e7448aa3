"""Compact audio for upload, made in a worker process (untrusted media never decoded in the daemon).

The daemon starts :func:`main` as a worker (:class:`dropscribe.workers.spawn.Worker`,
under an address-space limit), sends it a
:class:`~dropscribe.audio.compact_protocol.CompactRequest`
(:mod:`dropscribe.jobs.chunking.uploads` builds it) and reads its answers
(:mod:`dropscribe.audio.compact_protocol`). The worker:

1. a recording whose header says it is longer than a chunk is decoded once
   and cut into chunks as it comes (:mod:`dropscribe.audio.streamed`): each
   chunk is written, on as many encoder threads as the machine has cores
   free, and announced (``PartWritten``) while the rest is still decoding, so
   the daemon sends it at once;
2. any other is decoded once, resampled to 16 kHz mono, streamed frame by
   frame; encoded in the compact codec (until it proves longer than a chunk:
   then it goes in parts anyway) while the speech in it is found;
3. when that compact file is over the byte limit or longer than the chunk
   limit, the original is decoded again and each part, cut at pauses by
   :func:`dropscribe.audio.chunk_plan.plan_chunks`, written to a file of its own.

The last answer is the manifest, ``Compacted`` (every part, the duration, the
track), or ``CompactFailed`` with one sentence.
Memory stays flat: frames are encoded as they come; the voice detector sees
blocks of a few minutes (or only the windows around the cuts).

With ``speech`` (the backend's ``recover_speech``) the detector hears all of the
audio, and the spans it heard are kept beside each file written
(:mod:`dropscribe.audio.speech_files`) for the coverage pass: a plan's parts take
theirs from the whole recording's, already found to plan them. A ``HearRequest``
(a file uploaded as it is, whose words left a gap) only hears: :func:`hear`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.chunk_plan import ChunkPlanner, plan_chunks
from dropscribe.audio.compact_protocol import (
    EARLIER_OPUS_BIT_RATE,
    NOMINAL_BIT_RATES,
    Compacted,
    CompactFailed,
    CompactRequest,
    Heard,
    HearRequest,
    PartFile,
    PartWritten,
    planned_rate,
)
from dropscribe.audio.cuts import Part, Span
from dropscribe.audio.decode import MediaReader, check_complete, open_media
from dropscribe.audio.speech_blocks import SpeechFinder, find_speech
from dropscribe.audio.speech_files import within, write_speech
from dropscribe.audio.streamed import Samples, StreamedParts, to_float
from dropscribe.errors import BadInput
from dropscribe.workers.channel import Channel
from dropscribe.workers.messages import MessageError, Ready

#: Codec, container, file suffix and bit rate of each compact format (Opus's where the
#: request names none; the daemon names the protocol's: compact_protocol.upload_bit_rate).
CODECS: dict[str, tuple[str, str, str, int | None]] = {
    "opus": ("libopus", "ogg", ".ogg", NOMINAL_BIT_RATES["opus"]),
    "mp3": ("libmp3lame", "mp3", ".mp3", NOMINAL_BIT_RATES["mp3"]),
    "flac": ("flac", "flac", ".flac", NOMINAL_BIT_RATES["flac"]),
}
#: Encoder options, chosen by measurement (bench/README.md, issue 26): complexity 1 encodes
#: over 3x faster than the default 10 at the same size (and as fast at 24 kbit/s as at 16);
#: 60 ms frames and the speech mode save per-frame overhead. The bit rate is the protocol's
#: (compact_protocol.OPUS_BIT_RATES): 24 kbit/s as multipart bytes, 16 in base64, each
#: within 12 MB an hour of speech as sent. The words (tiny.en, long chunks, three
#: recordings pooled, part 7): 24 kbit/s 1.3 WER points behind the WAV, 18 kbit/s 5.3 and
#: 16 kbit/s 1.7, each driven by the stretches the model skips or repeats.
CODEC_OPTIONS: dict[str, dict[str, str]] = {
    "opus": {"compression_level": "1", "frame_duration": "60", "application": "voip"},
}
#: Encoder threads at most, however many cores are free.
MAX_ENCODERS = 4
#: Parts found over the byte limit (a variable bit rate) are planned again this much shorter.
REPLAN_FACTOR = 0.8


class TrackLog:
    """Where the chosen track is noted, for the manifest."""

    fields: dict[str, object] | None = None
    #: The recording's length as its header claims it (None: the header does not say).
    claimed: float | None = None


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
            track.claimed = reader.claim.track_seconds or reader.claim.file_seconds
        for piece in reader.pieces():
            decoded += len(piece)
            yield (np.clip(piece, -1.0, 1.0) * 32767).astype(np.int16)
        check_complete(decoded / SAMPLE_RATE, reader.claim)


class Encoder:
    """One compact output file, fed int16 samples in any block size."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        finder: SpeechFinder | None = None,
        bit_rate: int | None = None,
    ) -> None:
        codec, container_format, _, own_rate = CODECS[fmt]
        bit_rate = bit_rate if bit_rate is not None and own_rate is not None else own_rate
        self.path = path
        #: Hears the samples written, for the speech kept beside the file (None: not asked).
        self.finder = finder
        self.container = av.open(str(path), "w", format=container_format)
        options = CODEC_OPTIONS.get(fmt, {})
        stream: Any = self.container.add_stream(codec, rate=SAMPLE_RATE, options=options)
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
        if self.finder is not None:
            self.finder.feed(samples, needed=True)
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
        if self.finder is not None:
            write_speech(self.path, self.finder.finish())
        return self.path.stat().st_size


def compact(
    request: CompactRequest, emit: Callable[[PartFile], None] = lambda part: None
) -> Compacted:
    """Do what ``request`` asks (see the module docstring) and return the manifest;
    ``emit`` is told of each chunk as soon as it is written (the streamed way only)."""
    workdir, fmt = Path(request.workdir), request.format
    workdir.mkdir(parents=True, exist_ok=True)
    if request.parts:  # parts planned before (a restart), or the coverage pass's
        return Compacted(tuple(written_again(request)))
    chosen = TrackLog()
    pieces = pcm_pieces(request.source, request.max_duration, request.audio_track, chosen)
    first = next(pieces, None)  # the header is read: its claimed length is known
    blocks = itertools.chain([] if first is None else [first], pieces)
    claimed = chosen.claimed or 0.0
    if request.resume is not None or claimed > request.max_seconds:
        written, samples = streamed(request, blocks, claimed, emit)
    else:
        written, samples = whole_or_planned(request, blocks)
    return Compacted(tuple(written), samples / SAMPLE_RATE, fmt, chosen.fields)


def written_again(request: CompactRequest) -> list[PartFile]:
    """Write the parts of ``request`` (planned before, or the coverage pass's) at its bit
    rate; the parts over the byte limit are written again at the earlier, lower rate, all
    in one more decode of the recording. A plan's part over it was planned for that rate
    (the store keeps no rate) and fits at it again; a coverage pass's stretch is cut by
    seconds alone, and may still be over it."""
    workdir, fmt = Path(request.workdir), request.format
    common = (request.source, workdir, fmt)
    limits = (request.max_duration, request.audio_track)
    names = [part_name(request.first_index + i, fmt) for i in range(len(request.parts))]
    again = write_parts(
        *common, request.parts, *limits, hear=request.speech, names=names, bit_rate=request.bit_rate
    )
    rate = request.bit_rate or CODECS[fmt][3]
    if fmt != "opus" or rate is None or rate <= EARLIER_OPUS_BIT_RATE:
        return again  # written at the earlier rate already: again, the same bytes
    over = [index for index, written in enumerate(again) if written.bytes > request.max_bytes]
    if over:
        lower = write_parts(
            *common,
            [request.parts[index] for index in over],
            *limits,
            hear=request.speech,
            names=[names[index] for index in over],
            bit_rate=EARLIER_OPUS_BIT_RATE,
        )
        for index, written in zip(over, lower, strict=True):
            again[index] = written
    return again


def streamed(
    request: CompactRequest,
    blocks: Iterator[Samples],
    claimed: float,
    emit: Callable[[PartFile], None],
) -> tuple[list[PartFile], int]:
    """Cut the recording into chunks as it is decoded (:mod:`dropscribe.audio.streamed`)."""
    fmt, max_bytes = request.format, request.max_bytes
    cap = min(request.max_seconds, max_bytes / planned_rate(fmt, request.bit_rate))
    planner = ChunkPlanner(claimed, request.concurrency, max(cap, 2.0))
    parts = StreamedParts(
        Path(request.workdir),
        CODECS[fmt][2],
        lambda path, samples: encode_file(path, fmt, samples, request.speech, request.bit_rate),
        planner,
        max_bytes=max_bytes,
        emit=emit,
        encoders=request.encoders or free_cores(),
        place=request.resume,
    )
    try:
        for block in blocks:
            parts.feed(block)
        return parts.finish(), parts.position
    finally:
        parts.pool.shutdown(wait=False, cancel_futures=True)


def encode_file(
    path: Path, fmt: str, samples: Samples, hear: bool = False, bit_rate: int | None = None
) -> int:
    """Write ``samples`` to ``path`` at ``bit_rate``; with ``hear``, the speech in them
    beside it (on an encoder thread: the detector releases the GIL)."""
    encoder = Encoder(path, fmt, bit_rate=bit_rate)
    encoder.write(samples)
    if hear:
        write_speech(path, find_speech(to_float(samples)))
    return encoder.close()


def free_cores() -> int:
    """Return how many cores no one else is using now (at least 1), for encoder threads."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    busy = int(os.getloadavg()[0])
    return max(1, min(MAX_ENCODERS, cores - busy))


def whole_or_planned(
    request: CompactRequest, blocks: Iterator[Samples]
) -> tuple[list[PartFile], int]:
    """Encode the recording whole; when it is too big or too long, plan its parts on
    the speech found meanwhile and decode it again to write them."""
    workdir, fmt = Path(request.workdir), request.format
    max_bytes, max_seconds = request.max_bytes, request.max_seconds
    finder = SpeechFinder(hold_seconds=min(max_seconds, 600.0))
    whole: Encoder | None = Encoder(
        workdir / f"whole{CODECS[fmt][2]}", fmt, bit_rate=request.bit_rate
    )
    rate = 0.0  # bytes per second of the compact audio
    samples = 0
    for block in blocks:
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
        # The coverage pass wants all the speech (request.speech), not only around cuts.
        finder.feed(block, needed=long_enough or request.speech)
    duration = samples / SAMPLE_RATE
    if whole is not None:
        size = whole.close()
        rate = size / duration
        if size <= max_bytes:
            if request.speech:
                write_speech(whole.path, finder.finish())
            return [PartFile(0.0, duration, 0.0, duration, whole.path.name, size)], samples
        whole.path.unlink(missing_ok=True)
    return planned_parts(request, finder.finish(), duration, rate), samples


def planned_parts(
    request: CompactRequest, speech: list[Span], duration: float, rate: float
) -> list[PartFile]:
    """Write the parts planned on the whole recording's speech, shorter until they fit."""
    max_bytes = request.max_bytes
    # Seconds that fit under the byte limit at the bit rate just measured.
    limit = min(request.max_seconds, max_bytes / rate * 0.95)
    for _ in range(4):
        parts = plan_chunks(speech, duration, request.concurrency, max(limit, 2.0))
        written = write_parts(
            request.source,
            Path(request.workdir),
            request.format,
            parts,
            request.max_duration,
            request.audio_track,
            speech=speech if request.speech else None,
            bit_rate=request.bit_rate,
        )
        largest = max(part.bytes for part in written)
        if largest <= max_bytes:
            return written
        limit *= REPLAN_FACTOR * max_bytes / largest
    raise BadInput(
        f"The recording could not be cut into parts under {max_bytes} bytes; "
        "raise the backend's max_upload_bytes or choose a smaller upload_format."
    )


def write_parts(
    source: str,
    workdir: Path,
    fmt: str,
    parts: Sequence[Part],
    max_duration: float,
    track: Any,
    *,
    speech: list[Span] | None = None,
    hear: bool = False,
    first: int = 0,
    bit_rate: int | None = None,
    names: Sequence[str] | None = None,
) -> list[PartFile]:
    """Decode ``source`` again and write each part (they may overlap a little) to its file
    at ``bit_rate``, named from index ``first`` on (or by ``names``); stop decoding once
    the last is written.

    The speech beside each file: cut from ``speech`` (the whole recording's) when given,
    else heard part by part when ``hear``.
    """
    names = names or [part_name(first + i, fmt) for i in range(len(parts))]
    open_parts: dict[int, Encoder] = {}
    sizes: dict[int, int] = {}
    position = 0  # samples decoded so far
    for block in pcm_pieces(source, max_duration, track):
        block_start, block_end = position, position + len(block)
        position = block_end
        for index, part in enumerate(parts):
            low, high = round(part.start * SAMPLE_RATE), round(part.end * SAMPLE_RATE)
            if index in sizes or low >= block_end:
                continue
            if index not in open_parts:
                finder = SpeechFinder(0.0) if hear and speech is None else None
                open_parts[index] = Encoder(workdir / names[index], fmt, finder, bit_rate)
            open_parts[index].write(block[max(0, low - block_start) : max(0, high - block_start)])
            if high <= block_end:
                sizes[index] = open_parts.pop(index).close()
        if len(sizes) == len(parts):
            break  # the rest of the recording is in no part
    for index, encoder in open_parts.items():
        sizes[index] = encoder.close()
    if speech is not None:
        for name, part in zip(names, parts, strict=True):
            write_speech(workdir / name, within(speech, part.start, part.end))
    return [
        PartFile(p.start, p.end, p.keep_start, p.keep_end, names[i], sizes[i])
        for i, p in enumerate(parts)
    ]


def part_name(index: int, fmt: str) -> str:
    """The file of the plan's part ``index`` (the store names it by the same index)."""
    return f"part-{index:04d}{CODECS[fmt][2]}"


def hear(request: HearRequest) -> Heard:
    """Run the voice detector over all of the recording (nothing is written)."""
    finder = SpeechFinder(hold_seconds=0.0)
    samples = 0
    for block in pcm_pieces(request.source, request.max_duration, request.audio_track):
        samples += len(block)
        finder.feed(block, needed=True)
    return Heard(tuple(finder.finish()), samples / SAMPLE_RATE)


def main(channel: Channel) -> int:
    """The worker: take one request, answer as the protocol says; return the exit status."""
    channel.send(Ready(os.getpid()))
    try:
        kinds: tuple[type[CompactRequest | HearRequest], ...] = (CompactRequest, HearRequest)
        request = channel.receive(kinds)
    except MessageError:
        request = None
    if request is None:
        return 2  # the daemon is gone, or not one of ours
    try:
        if isinstance(request, HearRequest):
            manifest: Compacted | Heard = hear(request)
        else:
            manifest = compact(request, lambda part: channel.send(PartWritten(part)))
    except BadInput as exc:
        channel.send(CompactFailed(str(exc)))
        return 3
    except MemoryError:
        channel.send(CompactFailed("Preparing the upload ran out of its memory limit."))
        return 3
    channel.send(manifest)
    return 0
