"""Benchmark of issue 7: sequential against batched decoding, and what `auto` picks.

Runs the daemon's own engine code (the worker's ``_Engine``) in this process
on:

- a long synthetic reading with its exact text (bench/make_long_reading.sh);
- long files joined from the real clips of the real recordings with silences
  between them (1 s and 3 s);
- the short-clip corpus (the same clips one by one);
- many short files decoded as one batch (the clips joined with short
  silences), against one at a time, to see whether batching across files
  would pay.

For each: wall time and word error rate with batched = off, on and auto.

Run: .venv/bin/python -m bench.batched [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from bench.harness import ENGLISH_CLIPS, REPO, clip_path, machine, reference_text, report

WORK = REPO / "bench" / "results" / "batched"
#: Clips with a known reference text.
CLIPS = [
    "sense_and_sensibility_01_austen_64kb-0870.wav",
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "sense_and_sensibility_01_austen_64kb-0890.wav",
    "sense_and_sensibility_01_austen_64kb-0920.wav",
    "sense_and_sensibility_01_austen_64kb-0930.wav",
    "jfk.wav",
    "goforward.wav",
    "speechrecognition_english.wav",
]
#: The English recordings with a reference text (issue 16's corpus: 78 s joined).
ENGLISH = [name for name in ENGLISH_CLIPS if reference_text(name)]
SAMPLE_RATE = 16000


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(words(reference), words(hypothesis)))


def load(path: Path) -> Any:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def joined(gap_seconds: float, repeat: int = 1, clips: list[str] = CLIPS) -> tuple[Any, str]:
    """The clips one after another (``repeat`` times over) with silences between them."""
    silence = np.zeros(int(gap_seconds * SAMPLE_RATE), dtype=np.float32)
    parts, texts = [], []
    for name in clips * repeat:
        parts += [load(clip_path(name)), silence]
        texts.append(reference_text(name) or "")
    return np.concatenate(parts), " ".join(texts)


class Engine:
    def __init__(self) -> None:
        from dropscribe.backends.local.engine import Engine as LocalEngine
        from dropscribe.backends.local.model import resolve_model
        from dropscribe.backends.local.protocol import EngineOptions

        self.options = EngineOptions(
            model_load=resolve_model("tiny.en").load,
            model_name="tiny.en",
            device="cpu",
            compute_type="default",
            cpu_threads=0,
            parallel_decodes=0,
            workers=1,
            beam_size=5,
            vad_filter=False,
            word_timestamps=True,
            initial_prompt=None,
            batched="auto",
            batch_size=8,
        )
        self.engine = LocalEngine(self.options)

    def run(self, audio: Any, mode: str, decodes: int | None = None) -> tuple[str, float, str]:
        """Transcribe as a worker does for a file alone (all decodes free, unless told)."""
        from dropscribe.backends.local.protocol import Job

        self.engine.options = dataclasses.replace(self.options, batched=mode)
        started = time.perf_counter()
        result, decoding = self.engine.transcribe(
            Job(1, "bench", "auto", "transcribe", 1e9),
            audio,
            decodes or self.engine.parallel,
            lambda seconds: None,
        )
        elapsed = time.perf_counter() - started
        return result.text, elapsed, decoding


MODES = ("off", "on", "parts", "auto")


def compare(engine: Engine, label: str, audio: Any, reference: str, rounds: int) -> dict[str, str]:
    """Median wall time over ``rounds`` (modes interleaved, so noise hits all alike)."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    texts, chosen = {}, ""
    for _ in range(rounds):
        for mode in times:
            texts[mode], elapsed, used = engine.run(audio, mode)
            times[mode].append(elapsed)
            chosen = used if mode == "auto" else chosen
    rows = {}
    for mode, values in times.items():
        choice = f" (auto: {chosen})" if mode == "auto" else ""
        rows[f"{label}, batched={mode}"] = (
            f"{statistics.median(values):.2f} s, WER {wer(reference, texts[mode]):.3f}{choice}"
        )
    speedup = statistics.median(times["off"]) / statistics.median(times["auto"])
    rows[f"{label}, sequential / auto"] = f"{speedup:.2f}x"
    return rows


def prompted_parts(engine: Engine, label: str, audio: Any, reference: str) -> dict[str, str]:
    """Parts decoded one after another, each prompted with the last words before its cut,
    against the same parts without a prompt: does the context at a cut matter?"""
    from dropscribe.audio.cuts import plan_parts
    from dropscribe.audio.speech import detect_speech
    from dropscribe.audio.stitch import PartTranscript, stitch
    from dropscribe.backends.local.decoding import decode_sequential

    duration = len(audio) / SAMPLE_RATE
    parts = plan_parts(detect_speech(audio, SAMPLE_RATE), duration, parts=4)
    rows = {}
    for prompted in (False, True):
        transcripts, before = [], ""
        for part in parts:
            clip = audio[int(part.start * SAMPLE_RATE) : int(part.end * SAMPLE_RATE)]
            options = {"language": "en", "beam_size": 5, "word_timestamps": True}
            if prompted and before:
                options["initial_prompt"] = " ".join(before.split()[-30:])
            decoded = decode_sequential(engine.engine.model, clip, options, lambda s: None)
            transcripts.append(PartTranscript(part, decoded.segments, "en"))
            before = "".join(segment["text"] for segment in decoded.segments)
        text = "".join(segment["text"] for segment in stitch(transcripts).segments)
        name = "prompted with the words before" if prompted else "no prompt"
        rows[f"{label}, {len(parts)} parts, {name}"] = f"WER {wer(reference, text):.3f}"
    return rows


def short_clips(engine: Engine, rounds: int) -> dict[str, str]:
    rows = {}
    audios = [load(clip_path(name)) for name in CLIPS]
    totals: dict[str, list[float]] = {"off": [], "auto": []}
    errors: dict[str, list[float]] = {"off": [], "auto": []}
    for _ in range(rounds):
        for mode in totals:
            total = 0.0
            errors[mode] = []
            for name, audio in zip(CLIPS, audios, strict=True):
                text, elapsed, _ = engine.run(audio, mode)
                total += elapsed
                errors[mode].append(wer(reference_text(name) or "", text))
            totals[mode].append(total)
    for mode in totals:
        rows[f"short clips one by one, batched={mode}"] = (
            f"{statistics.median(totals[mode]):.2f} s, "
            f"mean WER {sum(errors[mode]) / len(errors[mode]):.3f}"
        )
    # Many short files as one batch: the clips joined with short gaps, decoded batched.
    audio, reference = joined(0.5)
    text, elapsed, _ = engine.run(audio, "on")
    rows["short clips decoded together in one batched call"] = (
        f"{elapsed:.2f} s, WER {wer(reference, text):.3f}"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", help="comma-separated: reading, gaps1, gaps3, joined, joined10, short, prompt"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    rows: dict[str, str] = {"machine": machine()}
    if args.smoke:
        fixture = REPO / "tests" / "fixtures" / "audio" / "long_reading"
        rows.update(
            compare(
                engine,
                "fixture long_reading.flac",
                load(fixture.with_suffix(".flac")),
                fixture.with_suffix(".txt").read_text(),
                1,
            )
        )
        report("Batched decoding (smoke)", rows)
        return
    only = set((args.only or "reading,gaps1,gaps3,joined,joined10,short").split(","))
    if "reading" in only:
        reading = WORK / "long_reading.wav"
        if not reading.exists():
            subprocess.run([str(REPO / "bench" / "make_long_reading.sh"), str(WORK)], check=True)
        audio = load(reading)
        label = f"synthetic reading {len(audio) / SAMPLE_RATE:.0f} s"
        reference = (WORK / "long_reading.txt").read_text()
        rows.update(compare(engine, label, audio, reference, args.rounds))
        print(rows, flush=True)
    corpora = {
        "gaps1": (1.0, 2, CLIPS),
        "gaps3": (3.0, 2, CLIPS),
        "joined": (1.5, 1, ENGLISH),
        "joined10": (1.5, 7, ENGLISH),
    }
    for name, (gap, repeat, clips) in corpora.items():
        if name not in only:
            continue
        audio, reference = joined(gap, repeat, clips)
        label = f"real clips joined {repeat}x, {gap:.1f} s gaps ({len(audio) / SAMPLE_RATE:.0f} s)"
        rows.update(compare(engine, label, audio, reference, args.rounds))
        print(rows, flush=True)
    if "prompt" in only:
        for repeat in (1, 7):
            audio, reference = joined(1.5, repeat, ENGLISH)
            label = f"real clips joined {repeat}x, 1.5 s gaps"
            rows.update(prompted_parts(engine, label, audio, reference))
    if "short" in only:
        rows.update(short_clips(engine, args.rounds))
    report("Batched decoding", rows)


if __name__ == "__main__":
    main()
