"""Issue 25 on remote engines: what the coverage pass recovers, and what it costs.

A real Whisper behind an OpenAI-compatible server on 127.0.0.1: faster-whisper
with the bundled tiny.en, decoding each upload in one long-form pass (as a
server's Whisper does: no voice detector, the words before as the prompt), so
it skips speech where Whisper does. With ``--drop`` (always in ``--smoke``) the
first upload also loses one clip's words, its last word before stretched over
it, as the issue saw, so that every run has something to recover.

Each recording (bench.coverage's: the English real recordings
joined with 1.5 s pauses in shuffled orders; the fixtures in ``--smoke``) goes
through ``dropscribe transcribe``'s remote path (the daemon's compact chunks, in
this process), and for each:

- WER of the server's first answer (before the pass) and of the transcript
  (after), words recovered, stretches still without words, uploads;
- the cost where nothing is missing: the upload worker's CPU with the voice
  detector hearing all the audio (``recover_speech``) against without it, and
  the daemon's arithmetic (speech read back, words laid against it), beside the
  server's decoding time of the same file.

Run: .venv/bin/python -m bench.remote_coverage [--orders 4] [--drop] [--smoke]
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import hashlib
import io
import json
import random
import resource
import statistics
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from bench.coverage import PAUSE_SECONDS, clips, shuffled, wer
from bench.harness import REPO, fresh_dir, machine, report

WORK = REPO / "bench" / "results" / "remote_coverage"
SAMPLE_RATE = 16000


@dataclass
class Answered:
    """What the server did with one upload."""

    seconds: float
    decode_seconds: float
    text: str


@dataclass
class WhisperServer:
    """OpenAI's /v1/audio/transcriptions (verbose_json, words), answered by tiny.en."""

    model: Any
    #: The first upload's words in this span are left out (a Whisper ending a window early).
    drop: tuple[float, float] | None = None
    answered: list[Answered] = field(default_factory=list)

    def answer(self, audio: bytes) -> dict[str, Any]:
        from faster_whisper.audio import decode_audio

        samples = decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
        started = time.perf_counter()
        found, _ = self.model.transcribe(samples, beam_size=5, word_timestamps=True)
        segments = [
            {
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "words": [
                    {"word": w.word, "start": w.start, "end": w.end, "probability": w.probability}
                    for w in s.words or []
                ],
            }
            for s in found
        ]
        if self.drop is not None and not self.answered:
            segments = dropped(segments, self.drop)
        text = "".join(s["text"] for s in segments)
        decoded = time.perf_counter() - started
        self.answered.append(Answered(len(samples) / SAMPLE_RATE, decoded, text))
        words = [w for s in segments for w in s.pop("words")]
        return {"language": "english", "text": text, "segments": segments, "words": words}


def dropped(segments: list[dict[str, Any]], span: tuple[float, float]) -> list[dict[str, Any]]:
    """The segments without the words in ``span``; the word before it stretched over it."""
    kept: list[dict[str, Any]] = []
    for segment in segments:
        words = [w for w in segment["words"] if not span[0] <= w["start"] < span[1]]
        if words:
            text = "".join(w["word"] for w in words)
            kept.append({**segment, "words": words, "text": text, "end": words[-1]["end"]})
    before = [s for s in kept if s["end"] <= span[0] + 0.5]
    if before:
        before[-1]["words"][-1]["end"] = span[1]
        before[-1]["end"] = span[1]
    return kept


@contextmanager
def serving(server: WhisperServer) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._send({"data": [{"id": "whisper-1"}]})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
            )
            audio = next(
                part.get_payload(decode=True)
                for part in message.iter_parts()
                if part.get_param("name", header="content-disposition") == "file"
            )
            self._send(server.answer(audio))  # type: ignore[arg-type]

        def _send(self, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/v1"
    finally:
        http.shutdown()
        http.server_close()


def write_wav(path: Path, audio: Any) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def settings_for(work: Path, url: str, recover: bool) -> Any:
    from dropscribe.config import load_settings

    config = work / "dropscribe.toml"
    config.write_text(
        f'[transcribe]\nbackend = "openai"\n[backends.openai]\nbase_url = "{url}"\n'
        f"compact_above_bytes = 0\nrecover_speech = {'true' if recover else 'false'}\n"
        "poll_initial_seconds = 0.01\n"
    )
    return load_settings(config)


@dataclass
class Measured:
    wer_before: float
    wer_after: float
    recovered: int
    missing: int
    uploads: int
    decode_seconds: float


def through_remote(work: Path, path: Path, reference: str, server: WhisperServer) -> Measured:
    """The recording through transcribe's remote path, the pass on."""
    from dropscribe.backends import create_backend
    from dropscribe.commands.remote_oneshot import transcribe_remote

    with serving(server) as url:
        settings = settings_for(work, url, recover=True)
        backend = create_backend("openai", settings)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        try:
            with structlog.testing.capture_logs() as logs:
                result = transcribe_remote(settings, backend, path, sha, None)
        finally:
            backend.close()
    recovered = [e for e in logs if e["event"] == "speech_recovered"]
    return Measured(
        wer(reference, server.answered[0].text),
        wer(reference, result.text),
        sum(int(e["recovered_words"]) for e in recovered),
        sum(len(e["still_missing"]) for e in recovered),
        len(server.answered),
        sum(a.decode_seconds for a in server.answered[:1]),
    )


def worker_cpu(path: Path, hear: bool) -> float:
    """CPU seconds of the upload worker preparing ``path`` (``hear``: all speech heard)."""
    from dropscribe.config import OpenAISettings
    from dropscribe.jobs.chunking.uploads import prepare

    section = OpenAISettings(recover_speech=hear)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as scratch:
        prepare(path, Path(scratch), "opus", audio_limit=10**9, section=section, max_duration=1e6)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def daemon_arithmetic(path: Path) -> float:
    """CPU seconds of the daemon's side of the pass where nothing is missing: the speech
    read back and the words laid against it (the words: one every 0.3 s of speech)."""
    from dropscribe.audio.speech_files import read_speech
    from dropscribe.config import OpenAISettings
    from dropscribe.jobs.chunking.uploads import prepare
    from dropscribe.transcript import Word, make_segment
    from dropscribe.transcript.coverage import clip_stretched, missing_speech

    section = OpenAISettings(recover_speech=True)
    with tempfile.TemporaryDirectory() as scratch:
        manifest = prepare(
            path, Path(scratch), "opus", audio_limit=10**9, section=section, max_duration=1e6
        )
        upload = Path(scratch) / manifest.parts[0].path
        speech = read_speech(upload) or []
        words: list[Word] = [
            {"word": " w", "start": at, "end": at + 0.3, "score": 0.9, "speaker": None}
            for start, end in speech
            for at in np.arange(start, end, 0.3).tolist()
        ]
        segments = [make_segment(" w", w["start"], w["end"], [w]) for w in words]
        started = time.process_time()
        for _ in range(20):
            heard = read_speech(upload) or []
            missing_speech(clip_stretched(segments, heard), heard)
        return (time.process_time() - started) / 20


def chunked_cost(audio: Any, rounds: int = 2) -> dict[str, str]:
    """The streamed preparation of ``audio`` seven times over as 8 chunks, with and
    without hearing all of it: the worker's CPU, its wall time, the first chunk's."""
    from dropscribe.config import OpenAISettings
    from dropscribe.jobs.chunking.uploads import prepare

    path = write_wav(WORK / "long.wav", np.concatenate([audio] * 7))
    rows: dict[str, list[str]] = {}
    for hear in [False, True] * rounds:
        section = OpenAISettings(recover_speech=hear, max_chunk_seconds=120, concurrency=4)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        first: list[float] = []
        with tempfile.TemporaryDirectory() as scratch:
            prepare(
                path,
                Path(scratch),
                "opus",
                audio_limit=10**9,
                section=section,
                max_duration=1e6,
                on_part=lambda _part, at=started, seen=first: seen.append(  # type: ignore[misc]
                    time.perf_counter() - at
                ),
            )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        label = "hearing all" if hear else "cuts only"
        rows.setdefault(f"chunked, {label}: worker CPU / wall / first chunk (s)", []).append(
            f"{cpu:.2f} / {time.perf_counter() - started:.2f} / {first[0]:.2f}"
        )
    return {key: "; ".join(values) for key, values in rows.items()}


def cost_rows(costs: list[tuple[float, float, float]]) -> dict[str, str]:
    """Each recording's cost: (worker CPU for hearing, daemon CPU, the server's decode)."""
    return {
        "worker CPU for hearing all speech (s)": ", ".join(f"{c[0]:.2f}" for c in costs),
        "daemon CPU for the pass, nothing missing (ms)": ", ".join(
            f"{c[1] * 1000:.1f}" for c in costs
        ),
        "server decode of the file (s)": ", ".join(f"{c[2]:.2f}" for c in costs),
        "hearing's share of the decode": ", ".join(f"{c[0] / c[2]:.0%}" for c in costs),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=4)
    parser.add_argument("--drop", action="store_true", help="the first upload loses a clip")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--chunked", action="store_true", help="also a streamed 10 min")
    args = parser.parse_args()
    from faster_whisper import WhisperModel

    from dropscribe.backends.local.model import resolve_model

    fresh_dir(WORK)
    model = WhisperModel(resolve_model("tiny.en").load, device="cpu", compute_type="int8")
    pieces = clips(args.smoke)[:2] if args.smoke else clips(False)  # smoke: two fixtures
    results: list[Measured] = []
    costs: list[tuple[float, float, float]] = []
    for seed in range(1 if args.smoke else args.orders):
        audio, reference = shuffled(pieces, seed)
        path = write_wav(WORK / f"joined-{seed}.wav", audio)
        drop = None
        if args.drop or args.smoke:  # the second clip of this order, as Whisper skips it
            order = list(range(len(pieces)))
            random.Random(seed).shuffle(order)  # the order shuffled() joined them in
            lengths = [len(pieces[i][0]) / SAMPLE_RATE + PAUSE_SECONDS for i in order]
            drop = (lengths[0], lengths[0] + lengths[1] - PAUSE_SECONDS)
        work = fresh_dir(WORK / f"run-{seed}")
        measured = through_remote(work, path, reference, WhisperServer(model, drop))
        results.append(measured)
        if not args.smoke:  # three more worker runs: too slow for the smoke test
            extra = worker_cpu(path, True) - worker_cpu(path, False)
            costs.append((extra, daemon_arithmetic(path), measured.decode_seconds))
    rows = {
        "recordings": f"{len(results)} ({len(audio) / SAMPLE_RATE:.0f} s the last)",
        "server": "faster-whisper tiny.en, one long-form decode an upload"
        + (", the first upload loses a clip (--drop)" if drop else ""),
        "WER before the pass (server's first answer), each": ", ".join(
            f"{r.wer_before:.3f}" for r in results
        ),
        "WER after, each": ", ".join(f"{r.wer_after:.3f}" for r in results),
        "WER before -> after, mean": f"{statistics.mean(r.wer_before for r in results):.3f}"
        f" -> {statistics.mean(r.wer_after for r in results):.3f}",
        "words recovered": ", ".join(str(r.recovered) for r in results),
        "stretches still without words": ", ".join(str(r.missing) for r in results),
        "uploads (1 = nothing sent again)": ", ".join(str(r.uploads) for r in results),
        **(cost_rows(costs) if costs else {"cost": "not measured in --smoke"}),
        **(chunked_cost(audio) if args.chunked else {}),
        "machine": machine(),
    }
    report("Coverage pass on remote engines (issue 25)" + (" (smoke)" if args.smoke else ""), rows)


if __name__ == "__main__":
    main()
