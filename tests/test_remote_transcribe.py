"""``dropscribe transcribe`` on remote engines: the daemon's compact chunks, and a progress
bar that shows the bytes going out, then the wait."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from dropscribe.commands.remote_oneshot import UploadBar, transcribe_remote
from dropscribe.config import load_settings
from tests.helpers import AUDIO
from tests.remote_setup import COMPACT_ALL, SERVERS, TOKEN, make_backend, remote_config

LONG = AUDIO / "long_reading.flac"
DROPSCRIBE = [sys.executable, "-m", "dropscribe"]


def test_transcribe_sends_a_long_recording_as_chunks_and_writes_one_transcript(
    workdir: Path,
) -> None:
    with SERVERS["openai"]() as server:
        server.token = TOKEN
        config = remote_config(workdir, "openai", server.url, max_chunk_seconds=10, **COMPACT_ALL)
        out = workdir / "out"
        result = subprocess.run(
            [*DROPSCRIBE, "transcribe", str(LONG), "--out", str(out), "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "long_reading.json").read_text())
    assert document["engine"]["upload"]["chunks"] == len(server.submissions) >= 3
    assert document["source"]["bytes"] == LONG.stat().st_size
    assert len(document["response"]["segments"]) == len(server.submissions)


def test_the_bar_counts_every_byte_uploaded_then_the_wait_and_the_chunks(
    workdir: Path,
) -> None:
    now = [100.0]
    stream = io.StringIO()
    with SERVERS["runpod"]() as server:
        server.token = TOKEN
        server.pending_polls = 3
        config = remote_config(workdir, "runpod", server.url, max_chunk_seconds=10, **COMPACT_ALL)
        backend = make_backend(workdir, "runpod", server.url, max_chunk_seconds=10)
        bar = UploadBar("long_reading.flac", stream, clock=lambda: now[0])
        try:
            transcribe_remote(load_settings(config), backend, LONG, "0" * 64, bar)
        finally:
            backend.close()
    # Every byte of every chunk counted (base64 is counted as the file's own bytes).
    assert bar.sent == bar.total == sum(job.audio_bytes for job in server.submissions)
    assert bar.done == bar.chunks == len(server.submissions)
    now[0] += 42
    assert bar.status() == f"long_reading.flac: waiting 42 s, {bar.chunks}/{bar.chunks} chunks done"
    drawn = stream.getvalue()
    assert "long_reading.flac: uploading" in drawn
    assert "long_reading.flac: waiting 0 s" in drawn


def test_the_bar_says_uploading_until_the_last_byte_is_out() -> None:
    now = [0.0]
    bar = UploadBar("call.wav", io.StringIO(), clock=lambda: now[0])
    bar.planned(chunks=1, upload_bytes=1000)
    bar.uploaded(600)
    assert bar.uploaded_at is None
    now[0] = 5.0
    bar.uploaded(400)
    assert bar.uploaded_at == 5.0
    now[0] = 17.0
    bar.waiting()
    assert bar.status() == "call.wav: waiting 12 s"  # one chunk: no chunk count
    bar.close()


def test_transcribe_on_a_terminal_draws_the_upload_then_the_wait(workdir: Path) -> None:
    """tqdm draws only on a terminal: give the command a pseudo-terminal as stderr."""
    import fcntl
    import struct
    import termios

    with SERVERS["octoai"]() as server:
        server.token = TOKEN
        server.pending_polls = 5
        config = remote_config(workdir, "octoai", server.url, max_chunk_seconds=10, **COMPACT_ALL)
        out = str(workdir / "out")
        controller, terminal = os.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        try:
            process = subprocess.Popen(
                [*DROPSCRIBE, "transcribe", str(LONG), "--out", out, "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=terminal,
                stdin=subprocess.DEVNULL,
            )
            os.close(terminal)
            drawn = b""
            while True:
                try:
                    piece = os.read(controller, 4096)
                except OSError:
                    break
                if not piece:
                    break
                drawn += piece
            assert process.wait(timeout=120) == 0
        finally:
            os.close(controller)
    frames = drawn.decode(errors="replace").replace("\r", "\n").splitlines()
    assert any("long_reading.flac: uploading" in f and "B" in f for f in frames)
    assert any("long_reading.flac: waiting" in f and "chunks done" in f for f in frames)
