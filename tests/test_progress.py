"""`dropscribe transcribe` on a terminal: a bar that moves on a long batched file, log
lines above it, and a bar even where the terminal reports no size (issue 28 item 4)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from dropscribe.audio.decode import decode_file
from tests.helpers import AUDIO, write_config


def long_recording(path: Path, copies: int = 3) -> float:
    """Write the reading ``copies`` times over as one 16 kHz WAV; return its seconds."""
    samples = decode_file(AUDIO / "long_reading.flac", 3600).samples
    joined = np.concatenate([samples] * copies)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(joined, -1, 1) * 32767).astype("<i2").tobytes())
    return len(joined) / 16000


def on_a_terminal_without_a_size(command: list[str]) -> tuple[int, str]:
    """Run ``command`` with a fresh pseudo-terminal (0 rows, 0 columns) as stderr."""
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=terminal, stdin=subprocess.DEVNULL
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the command exited and closed its end
                break
            if not chunk:
                break
            drawn += chunk
        code = process.wait(timeout=300)
    finally:
        os.close(controller)
    return code, drawn.decode(errors="replace")


def test_the_bar_moves_through_a_long_batched_file_with_the_log_above_it(
    workdir: Path,
) -> None:
    recording = workdir / "reading.wav"
    seconds = long_recording(recording)
    config = write_config(
        workdir,
        {"backends.local": {"batched": "on"}, "log": {"format": "console", "level": "info"}},
    )
    code, drawn = on_a_terminal_without_a_size(
        [
            sys.executable,
            "-m",
            "dropscribe",
            "transcribe",
            str(recording),
            "--out",
            str(workdir / "out"),
            "--config",
            str(config),
        ]
    )
    assert code == 0, drawn[-2000:]
    frames = drawn.replace("\r", "\n").splitlines()
    bars = [frame for frame in frames if "reading.wav:" in frame and "s audio" in frame]
    positions = [int(m.group(1)) for b in bars if (m := re.search(r"(\d+)/\d+ s audio", b))]
    total = round(seconds)
    # It moves while decoding (batched windows arrive a few at a time), and ends full.
    assert len({p for p in positions if 0 < p < total}) >= 2, bars
    assert bars[-1].lstrip().startswith("reading.wav: 100%"), bars[-1]
    # A log line is never drawn into the bar's line.
    assert not [f for f in frames if "s audio" in f and "local_decoded" in f], frames
    assert any("local_decoded" in frame for frame in frames)
