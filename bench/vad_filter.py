"""Issue 13: ``vad_filter`` on or off, speed and word error rate side by side.

The daemon's own engine (in this process) on the English recordings of
the real recordings one by one, the same joined with 1.5 s pauses, and 10 s of
silence and of noise (where the transcript must be empty); interleaved rounds.

Run: .venv/bin/python -m bench.vad_filter [--rounds 3] [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from typing import Any

import numpy as np

from bench.batched import ENGLISH, SAMPLE_RATE, Engine, joined, load, wer
from bench.harness import REPO, clip_path, machine, reference_text, report


def run(engine: Engine, audio: Any, vad: bool) -> tuple[str, float, list[str]]:
    from dropscribe.backends.local.protocol import Job

    engine.engine.options = dataclasses.replace(engine.options, vad_filter=vad, batched="off")
    started = time.perf_counter()
    result, _ = engine.engine.transcribe(
        Job(1, "bench", "auto", "transcribe", 1e9), audio, 1, lambda seconds: None
    )
    return result.text, time.perf_counter() - started, result.warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    engine = Engine()
    if args.smoke:
        fixture = REPO / "tests" / "fixtures" / "audio" / "fox.wav"
        corpus = [("fox.wav", load(fixture), (fixture.with_suffix(".txt")).read_text())]
        args.rounds = 1
    else:
        corpus = [(name, load(clip_path(name)), reference_text(name) or "") for name in ENGLISH]
        audio, reference = joined(1.5, 1, ENGLISH)
        corpus.append(("joined, 1.5 s pauses", audio, reference))
    rng = np.random.default_rng(1)
    quiet = [
        ("10 s silence", np.zeros(10 * SAMPLE_RATE, dtype=np.float32)),
        ("10 s noise", rng.normal(0, 0.05, 10 * SAMPLE_RATE).astype(np.float32)),
    ]
    times: dict[bool, list[float]] = {False: [], True: []}
    errors: dict[bool, list[float]] = {False: [], True: []}
    quiet_texts: dict[tuple[str, bool], str] = {}
    warned: dict[bool, int] = {False: 0, True: 0}
    for _ in range(args.rounds):
        for vad in (False, True):
            total, errors[vad], warned[vad] = 0.0, [], 0
            for _name, audio, reference in corpus:
                text, elapsed, warnings = run(engine, audio, vad)
                total += elapsed
                errors[vad].append(wer(reference, text))
                warned[vad] += bool(warnings)
            times[vad].append(total)
            for name, audio in quiet:
                quiet_texts[(name, vad)] = run(engine, audio, vad)[0]
    rows = {
        "machine": machine(),
        "files": f"{len(corpus)} ({', '.join(n for n, _, _ in corpus[:3])}, ...)",
    }
    for vad in (False, True):
        spread = ", ".join(f"{value:.2f}" for value in times[vad])
        rows[f"vad_filter = {str(vad).lower()}"] = (
            f"{statistics.median(times[vad]):.2f} s ({spread}), mean WER "
            f"{sum(errors[vad]) / len(errors[vad]):.3f}, files with a warning {warned[vad]}"
        )
        for name, _ in quiet:
            rows[f"vad_filter = {str(vad).lower()}, {name}"] = repr(quiet_texts[(name, vad)])
    report("vad_filter on and off", rows)


if __name__ == "__main__":
    main()
