"""Issue 25, files uploaded as they are: what hearing them costs the worker.

A file under ``compact_above_bytes`` (or with ``upload_format = "original"``) is sent
to a remote engine as it is; when the server's words leave a gap of 1 s or more the
worker is started to hear it (``HearRequest``: decode, voice detector, nothing
written). This measures that worker per recording (the English recordings of the
shared audio folder, or the project's fixtures where it is absent): its CPU (the
child's user + system time, start-up included), its wall time, and the daemon's CPU
for the gap check that decides whether it runs at all.

Run: nice -n 10 .venv/bin/python -m bench.as_is_hearing [--rounds 3] [--smoke]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from bench.harness import ENGLISH_CLIPS, clip_path, machine, report


def hearing(path: Path) -> tuple[float, float, int, float]:
    """The worker's CPU and wall seconds hearing ``path``, its spans and the audio's length."""
    from dropscribe.config import OpenAISettings
    from dropscribe.jobs.chunking.uploads import hear_speech

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    heard = hear_speech(path, OpenAISettings(), max_duration=1e6, audio_track="auto")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, wall, len(heard.speech), heard.duration


def gap_check_ms(duration: float) -> float:
    """The daemon's CPU (ms) for the gap check on words every 0.3 s over ``duration``."""
    from dropscribe.jobs.chunking.as_is import leaves_a_gap
    from dropscribe.transcript import Transcription, Word, make_segment

    words: list[Word] = [
        {"word": " w", "start": i * 0.3, "end": i * 0.3 + 0.3, "score": 0.9, "speaker": None}
        for i in range(int(duration / 0.3))
    ]
    segments = [make_segment(" w", w["start"], w["end"], [w]) for w in words]
    result = Transcription(segments, "en", duration, 0.0)
    started = time.process_time()
    for _ in range(20):
        leaves_a_gap(result)
    return (time.process_time() - started) / 20 * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    names = ENGLISH_CLIPS[:1] if args.smoke else ENGLISH_CLIPS
    rows: dict[str, str] = {"machine": machine()}
    for name in names:
        path = clip_path(name)
        runs = [hearing(path) for _ in range(1 if args.smoke else args.rounds)]
        cpus, walls = [r[0] for r in runs], [r[1] for r in runs]
        duration = runs[0][3]
        rows[f"{name} ({duration:.1f} s, {path.stat().st_size // 1024} KiB)"] = (
            f"worker CPU {min(cpus):.2f}-{max(cpus):.2f} s, wall {min(walls):.2f}-"
            f"{max(walls):.2f} s, {runs[0][2]} spans; gap check {gap_check_ms(duration):.2f} ms"
        )
    report("Issue 25: hearing a file uploaded as it is", rows)


if __name__ == "__main__":
    main()
