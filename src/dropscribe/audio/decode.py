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
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.headers import Claim, read_claim
from dropscribe.audio.pieces import PIECE_SECONDS, Resampling, SampleBuffer, Samples
from dropscribe.audio.tracks import TrackChoice, TrackInfo, choose_track, no_audio
from dropscribe.config.audio_track import AUTO, AudioTrackSetting
from dropscribe.errors import BadInput
from dropscribe.languages import normalise_language
from dropscribe.sources import EMPTY, open_source

__all__ = [
    "PIECE_SECONDS",
    "SAMPLE_RATE",
    "DecodedAudio",
    "MediaReader",
    "decode",
    "decode_file",
    "open_media",
]

#: Decoded audio shorter than this share of what the header promises is a truncated file.
TRUNCATION_TOLERANCE = 0.9
#: Room reserved first when no header tells the length; it doubles as needed.
UNKNOWN_LENGTH_SECONDS = 600.0


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
        stream = open_source(path)
    except OSError as exc:
        raise BadInput(f"The file cannot be opened ({exc.strerror}); drop it again.") from None
    if os.fstat(stream.fileno()).st_size == 0:  # say so, not the decoder's cryptic refusal
        stream.close()
        raise BadInput(EMPTY)
    return stream


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
        "The file could not be decoded as audio; check that it is a complete recording "
        "in a supported format.",
        detail=f"{type(exc).__name__}: {str(exc)[:300]}",
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
        resampling = Resampling()
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


def _track_info(position: int, stream: Any) -> TrackInfo:
    import av

    language = stream.metadata.get("language") or stream.metadata.get("LANGUAGE")
    return TrackInfo(
        position=position,
        language=normalise_language(language),
        default=bool(stream.disposition & av.stream.Disposition.default),
        codec=stream.codec_context.name,
    )
