"""Decoding untrusted media in the worker, and telling the user what is wrong with it."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from dropscribe.errors import BadInput

SAMPLE_RATE = 16000
#: Decoded audio shorter than this share of what the header promises is a truncated file.
TRUNCATION_TOLERANCE = 0.9


def decode(path: str, max_duration: float) -> Any:
    """Return the file's audio as 16 kHz mono float32 samples.

    Raises:
        BadInput: gone, unreadable, not audio, empty, truncated or too long.
    """
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(path, sampling_rate=SAMPLE_RATE)
    except FileNotFoundError:
        raise BadInput(
            "The file disappeared before it could be transcribed; drop it again."
        ) from None
    except PermissionError:
        raise BadInput(
            "The file cannot be read (permission denied); make it readable by the "
            "user dropscribe runs as, then run: dropscribe retry --failed."
        ) from None
    except Exception as exc:
        raise BadInput(
            f"The file could not be decoded as audio ({type(exc).__name__}: {str(exc)[:160]}); "
            "check that it is a complete recording in a supported format."
        ) from None
    duration = len(audio) / SAMPLE_RATE
    if duration < 0.01:
        raise BadInput("The file holds no audio samples; check that the recording is not empty.")
    declared = declared_duration(path)
    if declared is not None and duration < declared * TRUNCATION_TOLERANCE - 0.2:
        raise BadInput(
            f"The recording is truncated: its header promises {declared:.1f} s but only "
            f"{duration:.1f} s could be decoded; upload the complete file again."
        )
    if duration > max_duration:
        raise BadInput(
            f"The recording lasts {duration:.0f} s, more than the configured maximum of "
            f"{max_duration:.0f} s (transcribe.max_duration_seconds); raise the limit or "
            "split the file."
        )
    return audio


def declared_duration(path: str) -> float | None:
    """Return the duration the file's header claims, when it makes a reliable claim."""
    wav = _wav_declared_duration(Path(path))
    if wav is not None:
        return wav if wav > 0 else None
    try:
        import av

        with av.open(path) as container:
            # MP3 (Xing/Info), FLAC, M4A and Ogg headers carry the real length; for plain
            # MP3 ffmpeg estimates it from the file size, which never flags a whole file.
            return float(container.duration) / 1e6 if container.duration else None
    except Exception:
        return None


def _wav_declared_duration(path: Path) -> float | None:
    """Read a RIFF/WAVE header: the data chunk's size over the byte rate (0: unknown)."""
    try:
        with path.open("rb") as stream:
            header = stream.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return None
            byte_rate = 0
            while chunk := stream.read(8):
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = stream.read(size + (size & 1))
                    byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else 0
                elif name == b"data":
                    # Streaming writers leave 0 or 0xFFFFFFFF: the length is unknown.
                    if not byte_rate or size in (0, 0xFFFFFFFF):
                        return 0.0
                    return float(size / byte_rate)
                else:
                    stream.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None
