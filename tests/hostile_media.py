"""Small files with headers that lie or that decode to far more audio than their size.

Built by the tests (and bench/hostile_memory.py) rather than committed: each
is a few bytes of patching on a real fixture, or a short PyAV encode.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.helpers import AUDIO


def wav_at_8_hz(path: Path, seconds: float, data_size: int | None = None) -> Path:
    """Write a PCM WAV sampled at 8 Hz: 16 bytes a second, 230 KB for four hours.

    ``data_size`` replaces the data chunk's size in the header (0xFFFFFFFF:
    unknown, as streaming writers leave it).
    """
    rate = 8
    data = bytes(int(seconds * rate) * 2)
    size = len(data) if data_size is None else data_size
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size)
    path.write_bytes(header + data)
    return path


def mp3_with_lying_xing_header(path: Path, frames: int = 0x0FFFFFFF) -> Path:
    """Copy the weather MP3 with its Xing/Info tag claiming ``frames`` frames.

    At 576 samples a frame and 16 kHz, the default claims about 1,200 days.
    """
    data = bytearray((AUDIO / "weather.mp3").read_bytes())
    at = max(data.find(b"Xing"), data.find(b"Info"))
    assert at > 0, "the fixture MP3 has no Xing/Info tag"
    flags = struct.unpack(">I", data[at + 4 : at + 8])[0]
    assert flags & 1, "the tag does not hold a frame count"
    data[at + 8 : at + 12] = struct.pack(">I", frames)
    path.write_bytes(bytes(data))
    return path


def flac_with_total_samples(path: Path, total: int, source: Path | None = None) -> Path:
    """Copy a FLAC file with STREAMINFO's 36-bit total_samples set to ``total`` (0: unknown)."""
    data = bytearray((source or AUDIO / "long_reading.flac").read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0, "STREAMINFO must come first"
    # STREAMINFO starts after the 4-byte block header; bytes 10..17 of it hold the sample
    # rate (20 bits), channels (3), bits per sample (5) and total_samples (36).
    start = 8 + 10
    packed = int.from_bytes(data[start : start + 8], "big")
    packed = (packed & ~((1 << 36) - 1)) | total
    data[start : start + 8] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def long_silent_flac(path: Path, seconds: int, rate: int = 8000) -> Path:
    """Encode ``seconds`` of silence as FLAC (about 190 bytes a second at 8 kHz)."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="flac") as output:
        stream = output.add_stream("flac", rate=rate, layout="mono")
        minute = np.zeros((1, rate * 60), dtype=np.int16)
        for _ in range(seconds // 60):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def crafted_files(directory: Path) -> dict[str, Path]:
    """Write every hostile file into ``directory``; return them by a short description."""
    directory.mkdir(parents=True, exist_ok=True)
    unknown = long_silent_flac(directory / "hour.flac", 3600)
    return {
        "wav 8 Hz, 4 h by its header": wav_at_8_hz(directory / "four_hours.wav", 4 * 3600),
        "wav 8 Hz, 4 h, size unknown": wav_at_8_hz(
            directory / "streamed.wav", 4 * 3600, data_size=0xFFFFFFFF
        ),
        "mp3, lying Xing frame count": mp3_with_lying_xing_header(directory / "xing.mp3"),
        "flac, huge total_samples": flac_with_total_samples(directory / "huge.flac", (1 << 36) - 1),
        "flac, 1 h of audio, total_samples unknown": flac_with_total_samples(
            directory / "unknown.flac", 0, source=unknown
        ),
    }
