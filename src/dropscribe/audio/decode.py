"""Decoding untrusted media into 16 kHz mono samples, with memory bounded by the duration limit.

Only worker processes call this: a codec that crashes or hangs on a hostile
file takes a worker down, never the daemon. Three guards keep a small file
from claiming a lot of memory (a 230 KB WAV at 8 Hz is four hours of audio
once resampled): the headers' claimed length is checked before any decoding;
the audio is resampled a piece of at most ``PIECE_SECONDS`` at a time, so a
low sample rate never expands a whole file at once; and decoding stops as
soon as the samples pass the limit. What is kept is the samples themselves,
4 bytes each: about 230 MB an hour (1.4 GB at the default 6-hour limit).

:class:`MediaReader` yields the pieces for a consumer that streams them (an
encoder); :func:`decode` collects them into one array for the model.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.headers import Claim, read_claim
from dropscribe.audio.tracks import (
    AUTO,
    AudioTrackSetting,
    TrackChoice,
    TrackInfo,
    choose_track,
    no_audio,
    normalise_language,
)
from dropscribe.errors import BadInput
from dropscribe.inbox.sources import open_source

__all__ = ["SAMPLE_RATE", "DecodedAudio", "MediaReader", "decode", "decode_file"]

#: The most audio resampled at once, in seconds of output (1.9 MB of samples).
PIECE_SECONDS = 30.0
#: Decoded audio shorter than this share of what the header promises is a truncated file.
TRUNCATION_TOLERANCE = 0.9
#: Room reserved first when no header tells the length; it doubles as needed.
UNKNOWN_LENGTH_SECONDS = 600.0

Samples = NDArray[np.float32]


@dataclass(frozen=True)
class DecodedAudio:
    samples: Samples
    choice: TrackChoice

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def decode_file(
    path: str | Path, max_duration: float, audio_track: AudioTrackSetting = AUTO
) -> DecodedAudio:
    """Return the chosen audio track of the file at ``path`` as 16 kHz mono samples.

    Raises:
        BadInput: a link, gone, unreadable, not audio, without sound, empty,
            truncated or too long (one sentence saying what to do).
    """
    with open_media(Path(path)) as source:
        return decode(source, max_duration, audio_track)


def open_media(path: Path) -> BinaryIO:
    """Return the file opened for reading, never through a symbolic link (inbox.sources).

    Raises:
        BadInput: a link, a folder or a special file; gone; permission denied.
    """
    try:
        return open_source(path)
    except FileNotFoundError:
        raise BadInput(
            "The file disappeared before it could be transcribed; drop it again."
        ) from None
    except PermissionError:
        raise BadInput(
            "The file cannot be read (permission denied); make it readable by the "
            "user dropscribe runs as, then run: dropscribe retry --failed."
        ) from None
    except OSError as exc:
        raise BadInput(f"The file cannot be opened ({exc.strerror}); drop it again.") from None


def decode(
    source: BinaryIO, max_duration: float, audio_track: AudioTrackSetting = AUTO
) -> DecodedAudio:
    """Return the chosen audio track of an opened file as 16 kHz mono samples.

    Raises:
        BadInput: not audio, without sound, empty, truncated or too long.
    """
    with MediaReader(source, max_duration, audio_track) as reader:
        buffer = SampleBuffer(
            expected=_expected_samples(reader.claim, max_duration),
            limit=reader.max_samples,
        )
        for piece in reader.pieces():
            buffer.append(piece)
    samples = buffer.samples()
    check_complete(len(samples) / SAMPLE_RATE, reader.claim)
    return DecodedAudio(samples, reader.choice)


def check_complete(decoded_seconds: float, claim: Claim) -> None:
    """Raise BadInput when nothing, or much less than the header promised, was decoded."""
    if decoded_seconds < 0.01:
        raise BadInput("The file holds no audio samples; check that the recording is not empty.")
    promised = claim.track_seconds
    if promised is not None and decoded_seconds < promised * TRUNCATION_TOLERANCE - 0.2:
        raise BadInput(
            f"The recording is truncated: its header promises {promised:.1f} s but only "
            f"{decoded_seconds:.1f} s could be decoded; upload the complete file again."
        )


def too_long(max_duration: float, claimed: float | None = None) -> BadInput:
    """Return the error for a recording over the limit (``claimed``: what its header says)."""
    limit = (
        f"more than the configured maximum of {max_duration:.0f} s "
        "(transcribe.max_duration_seconds)"
    )
    if claimed is not None:
        return BadInput(
            f"The recording lasts {claimed:.0f} s by its header, {limit}; "
            "raise the limit or split the file."
        )
    return BadInput(
        f"The recording lasts {limit}: decoding stopped there; raise the limit or split the file."
    )


def _undecodable(exc: Exception) -> BadInput:
    return BadInput(
        f"The file could not be decoded as audio ({type(exc).__name__}: {str(exc)[:160]}); "
        "check that it is a complete recording in a supported format."
    )


def _expected_samples(claim: Claim, max_duration: float) -> int:
    seconds = claim.track_seconds or claim.file_seconds
    expected = seconds * 1.02 + 1 if seconds else UNKNOWN_LENGTH_SECONDS
    return int(min(expected, max_duration) * SAMPLE_RATE)


class MediaReader:
    """An opened file's chosen audio track, read as 16 kHz mono pieces.

    Raises BadInput on opening (not audio, no audio track, over the limit by
    its header) and while reading (over the limit, undecodable).
    """

    def __init__(
        self, source: BinaryIO, max_duration: float, audio_track: AudioTrackSetting = AUTO
    ) -> None:
        import av

        self.max_duration = max_duration
        self.max_samples = int(max_duration * SAMPLE_RATE)
        try:
            self.container: Any = av.open(source, mode="r", metadata_errors="ignore")
        except MemoryError:
            raise
        except Exception as exc:  # ffmpeg's many errors, and bad metadata, alike
            raise _undecodable(exc) from None
        try:
            streams = list(self.container.streams.audio)
            if not streams:
                raise no_audio([stream.type for stream in self.container.streams])
            tracks = [_track_info(position, stream) for position, stream in enumerate(streams)]
            self.choice = choose_track(tracks, audio_track)
            self.stream: Any = streams[self.choice.track.position]
            self.claim = read_claim(source, self.container, self.stream)
            claimed = self.claim.file_seconds
            if claimed is not None and claimed > max_duration:
                raise too_long(max_duration, claimed)
        except BaseException:
            self.container.close()
            raise

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def pieces(self) -> Iterator[Samples]:
        """Yield the track as 16 kHz mono float32 pieces, each at most ``PIECE_SECONDS`` long.

        Raises:
            BadInput: the audio passes the duration limit, or cannot be decoded.
        """
        decoded = 0
        resampling = _Resampling()
        try:
            for frame in self._frames():
                for piece in resampling.feed(frame):
                    decoded += len(piece)
                    if decoded > self.max_samples:
                        raise too_long(self.max_duration)
                    yield piece
            for piece in resampling.flush():
                decoded += len(piece)
                if decoded > self.max_samples:
                    raise too_long(self.max_duration)
                yield piece
        except (BadInput, MemoryError, GeneratorExit):
            raise
        except Exception as exc:
            raise _undecodable(exc) from None
        finally:
            del resampling
            # The resampler's frames sit in reference cycles; free them now, not later
            # (faster-whisper does the same after decoding).
            gc.collect()

    def _frames(self) -> Iterator[Any]:
        import av

        for packet in self.container.demux(self.stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # a damaged packet: skip it, as ffmpeg's own tool does
            yield from frames


class _Resampling:
    """Input frames gathered into pieces of bounded output length, then resampled.

    A new FIFO and resampler start whenever the input's format changes (some
    streams change sample rate midway).
    """

    def __init__(self) -> None:
        self._key: tuple[str, str, int] | None = None
        self._fifo: Any = None
        self._resampler: Any = None
        self._piece_samples = 0

    def feed(self, frame: Any) -> Iterator[Samples]:
        import av

        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key != self._key:
            yield from self.flush()
            self._key = key
            self._fifo = av.AudioFifo()
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            # Input samples giving PIECE_SECONDS of output, whatever the input's rate.
            self._piece_samples = max(1, int(PIECE_SECONDS * frame.sample_rate))
        frame.pts = None  # the FIFO checks timestamps; damaged files have gaps
        self._fifo.write(frame)
        while self._fifo.samples >= self._piece_samples:
            yield from self._resample(self._fifo.read(self._piece_samples))

    def flush(self) -> Iterator[Samples]:
        if self._fifo is None:
            return
        if self._fifo.samples:
            yield from self._resample(self._fifo.read())
        yield from self._resample(None)
        self._fifo = self._resampler = self._key = None

    def _resample(self, frame: Any) -> Iterator[Samples]:
        for out in self._resampler.resample(frame):
            # s16 then scaled, as faster-whisper decodes: the same samples, the same words.
            yield out.to_ndarray().reshape(-1).astype(np.float32) / np.float32(32768.0)


class SampleBuffer:
    """Samples in one array that doubles as it fills, never past ``limit`` samples."""

    def __init__(self, expected: int, limit: int) -> None:
        self._limit = limit
        self._array: Samples = np.empty(max(1, min(expected, limit)), dtype=np.float32)
        self._size = 0

    def append(self, piece: Samples) -> None:
        end = self._size + len(piece)
        if end > self._limit:
            raise ValueError("the buffer is full; the reader stops at the limit")
        if end > len(self._array):
            grown = np.empty(min(max(end, 2 * len(self._array)), self._limit), dtype=np.float32)
            grown[: self._size] = self._array[: self._size]
            self._array = grown
        self._array[self._size : end] = piece
        self._size = end

    def samples(self) -> Samples:
        """Return the samples; a copy when most of the room was never used."""
        if self._size < len(self._array) // 2:
            return self._array[: self._size].copy()
        return self._array[: self._size]


def _track_info(position: int, stream: Any) -> TrackInfo:
    import av

    language = stream.metadata.get("language") or stream.metadata.get("LANGUAGE")
    return TrackInfo(
        position=position,
        language=normalise_language(language),
        default=bool(stream.disposition & av.stream.Disposition.default),
        codec=stream.codec_context.name,
    )
