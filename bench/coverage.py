"""Issue 25: the coverage pass, what it recovers and what it costs.

Runs the daemon's own engine code in this process, and for each recording
decodes it as the worker does (``--mode``: off = sequential, as a busy worker
decodes; parts; auto), then runs the coverage pass on that result, timing the
two apart (CPU seconds of this process, all threads, and wall seconds):

- the English real recordings (the five LibriVox clips, jfk,
  vosk_test, goforward, speechrecognition_english) and the first 20 s of the
  long synthetic reading, joined with 1.5 s pauses, in ``--orders`` shuffled
  orders (seeds 0, 1, ...);
- the long synthetic reading (bench/make_long_reading.sh, 248 s), where
  nothing is missing: the pass should cost nearly nothing there.

For each: words recovered, WER before and after the pass, the longest word
before and after, the stretches still without words, and the pass's share of
the decoding time. Where the shared recordings are absent (``--smoke`` on a
clone), the project's fixtures stand in.

Run: .venv/bin/python -m bench.coverage [--orders 20] [--mode off] [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import jiwer
import numpy as np

from bench.batched import SAMPLE_RATE, Engine, load
from bench.harness import HAVE_SHARED_AUDIO, REPO, clip_path, machine, reference_text, report

WORK = REPO / "bench" / "results" / "coverage"
PAUSE_SECONDS = 1.5
CLIPS = [
    "sense_and_sensibility_01_austen_64kb-0870.wav",
    "sense_and_sensibility_01_austen_64kb-0880.wav",
    "sense_and_sensibility_01_austen_64kb-0890.wav",
    "sense_and_sensibility_01_austen_64kb-0920.wav",
    "sense_and_sensibility_01_austen_64kb-0930.wav",
    "jfk.wav",
    "vosk_test.wav",
    "goforward.wav",
    "speechrecognition_english.wav",
]
FIXTURES = ["weather.wav", "fox.wav", "numbers.wav", "go_forward.wav", "move.wav"]
#: vosk's test.wav has no reference beside it: the digits it reads.
VOSK = "one zero zero zero one nine oh two one oh zero one eight zero three"
NUMBERS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip


def words(text: str) -> str:
    """Lower case, no punctuation, digits for number words (the model writes "10")."""
    plain = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    return " ".join(NUMBERS.get(word, word) for word in plain)


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(words(reference), words(hypothesis) or "-"))


def reading() -> tuple[Any, str]:
    path = WORK / "long_reading.wav"
    if not path.exists():
        subprocess.run([str(REPO / "bench" / "make_long_reading.sh"), str(WORK)], check=True)
    return load(path), path.with_suffix(".txt").read_text()


def clips(smoke: bool) -> list[tuple[Any, str]]:
    """The recordings to join, each with its reference."""
    if smoke or not HAVE_SHARED_AUDIO:
        fixtures = REPO / "tests" / "fixtures" / "audio"
        names = FIXTURES[:3] if smoke else FIXTURES
        return [(load(fixtures / n), (fixtures / n).with_suffix(".txt").read_text()) for n in names]
    chosen = [
        (load(clip_path(n)), VOSK if n.startswith("vosk") else reference_text(n) or "")
        for n in CLIPS
    ]
    audio, text = reading()
    # The first 20 s of the reading, cut where its reference's 67th word ("bridge") ends.
    chosen.append((audio[: 20 * SAMPLE_RATE], " ".join(text.split()[:67])))
    return chosen


def shuffled(pieces: list[tuple[Any, str]], seed: int) -> tuple[Any, str]:
    order = list(pieces)
    random.Random(seed).shuffle(order)
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    audio = np.concatenate([part for clip, _ in order for part in (clip, pause)])
    return audio, " ".join(text for _, text in order)


@dataclass
class Measured:
    wer_before: float
    wer_after: float
    recovered: int
    longest_before: float
    longest_after: float
    missing: int
    decode_cpu: float
    pass_cpu: float
    decode_wall: float
    pass_wall: float
    vad_cpu: float


def longest(segments: list[Any]) -> float:
    return max((w["end"] - w["start"] for s in segments for w in s["words"]), default=0.0)


def measure(engine: Engine, audio: Any, reference: str, mode: str, decodes: int) -> Measured:
    """Decode as the worker does, then run the coverage pass alone, timing each."""
    from dropscribe.audio.speech import detect_speech
    from dropscribe.backends.local.batching import CLIP_SECONDS, plan_decoding
    from dropscribe.backends.local.protocol import Job

    inner = engine.engine
    inner.options = dataclasses.replace(engine.options, batched=mode)
    job = Job(1, "bench", "auto", "transcribe", 1e9)
    cpu, wall = time.process_time(), time.perf_counter()
    speech = detect_speech(audio, SAMPLE_RATE, max_speech_seconds=CLIP_SECONDS)
    vad_cpu = time.process_time() - cpu
    plan = plan_decoding(mode, speech, len(audio) / SAMPLE_RATE, decodes)
    decoded, _ = inner._decode(job, audio, plan, speech, lambda seconds: None, decodes)
    decode_cpu, decode_wall = time.process_time() - cpu, time.perf_counter() - wall
    cpu, wall = time.process_time(), time.perf_counter()
    repaired, recovery = inner._recover(job, audio, decoded, speech)
    pass_cpu, pass_wall = time.process_time() - cpu, time.perf_counter() - wall

    def text(segments: list[Any]) -> str:
        return " ".join(w["word"] for s in segments for w in s["words"])

    return Measured(
        wer(reference, text(decoded.segments)),
        wer(reference, text(repaired.segments)),
        recovery.recovered_words,
        longest(decoded.segments),
        longest(repaired.segments),
        len(recovery.missing),
        decode_cpu,
        pass_cpu,
        decode_wall,
        pass_wall,
        vad_cpu,
    )


def summary(label: str, results: list[Measured]) -> dict[str, str]:
    touched = [r for r in results if r.recovered or r.longest_before > r.longest_after]
    clean = [r for r in results if r not in touched]
    rows = {
        f"{label}: files": f"{len(results)}, {len(touched)} with words missing or stretched",
        f"{label}: words recovered": f"{sum(r.recovered for r in results)}",
        f"{label}: WER before -> after (mean)": (
            f"{statistics.mean(r.wer_before for r in results):.3f} -> "
            f"{statistics.mean(r.wer_after for r in results):.3f}"
        ),
        f"{label}: longest word before -> after": (
            f"{max(r.longest_before for r in results):.1f} s -> "
            f"{max(r.longest_after for r in results):.1f} s"
        ),
        f"{label}: files still with speech without words": f"{sum(r.missing > 0 for r in results)}",
    }
    for name, group in (("files with nothing missing", clean), ("files repaired", touched)):
        if group:
            share = sum(r.pass_cpu for r in group) / sum(r.decode_cpu for r in group)
            rows[f"{label}: pass / decoding CPU, {name}"] = (
                f"{100 * share:.1f} % ({sum(r.pass_cpu for r in group):.1f} s of "
                f"{sum(r.decode_cpu for r in group):.1f} s; wall "
                f"{sum(r.pass_wall for r in group):.1f} s of "
                f"{sum(r.decode_wall for r in group):.1f} s)"
            )
    vad = sum(r.vad_cpu for r in results) / sum(r.decode_cpu for r in results)
    # The detector runs on every recording already (it plans the decoding); counted apart.
    rows[f"{label}: the voice detector's share of decoding CPU (ran before the pass too)"] = (
        f"{100 * vad:.1f} %"
    )
    for index, r in enumerate(results):
        if r.recovered or r.missing:
            rows[f"{label}: order {index}"] = (
                f"+{r.recovered} words, WER {r.wer_before:.3f} -> {r.wer_after:.3f}, "
                f"longest word {r.longest_before:.1f} -> {r.longest_after:.1f} s, "
                f"pass {r.pass_cpu:.1f} s CPU of decoding {r.decode_cpu:.1f} s"
            )
    return rows


#: Clean English recordings for the language warning, and the foreign ones it must catch.
SHARED_ENGLISH = [*CLIPS, "jfk.mp3"]
SHARED_FOREIGN = ["speechrecognition_french.aiff", "speechrecognition_chinese.flac"]
FIXTURE_ENGLISH = [*FIXTURES, "long_reading.flac"]
PADS = (0.0, 0.3, 0.5, 1.0, 2.0)


def language_warnings(engine: Engine, smoke: bool) -> dict[str, str]:
    """How often "does not sound like English" fires, on every clean English recording
    with 0-2 s of silence before it (and 0.5 and 2 s after), and on the foreign ones."""
    from dropscribe.backends.local.protocol import Job

    fixtures = REPO / "tests" / "fixtures" / "audio"
    english = [fixtures / n for n in FIXTURE_ENGLISH]
    foreign = [fixtures / "french.flac"]
    if HAVE_SHARED_AUDIO and not smoke:
        english += [clip_path(n) for n in SHARED_ENGLISH]
        foreign += [clip_path(n) for n in SHARED_FOREIGN]
    variants = [("before", pad) for pad in PADS] + [("after", 0.5), ("after", 2.0)]
    if smoke:  # the smallest form: one recording each, padded once
        english, foreign, variants = english[:1], foreign[:1], [("before", 0.5)]
    counts = {"english": [0, 0], "foreign": [0, 0]}
    flagged = []
    inner = engine.engine
    for kind, paths in (("english", english), ("foreign", foreign)):
        for path in paths:
            audio = load(path)
            for where, pad in variants:
                silence = np.zeros(int(pad * SAMPLE_RATE), dtype=np.float32)
                padded = np.concatenate([silence, audio] if where == "before" else [audio, silence])
                result, _ = inner.transcribe(
                    Job(1, "bench", "auto", "transcribe", 1e9), padded, 1, lambda s: None
                )
                warned = any("does not sound like English" in w for w in result.warnings)
                counts[kind][0] += 1
                counts[kind][1] += warned
                if warned and kind == "english":
                    flagged.append(f"{path.name} {pad} s {where}")
    rows = {
        "language warning on clean English (recordings x paddings)": (
            f"{counts['english'][1]} of {counts['english'][0]} "
            f"({len(english)} recordings){': ' + ', '.join(flagged) if flagged else ''}"
        ),
        "language warning on French and Chinese": (
            f"{counts['foreign'][1]} of {counts['foreign'][0]} ({len(foreign)} recordings)"
        ),
    }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--mode", default="off", help="batched: off | parts | auto")
    parser.add_argument("--decodes", type=int, default=1)
    parser.add_argument("--no-reading", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--language", action="store_true", help="only the language warning's false alarms"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    engine.engine.options = dataclasses.replace(engine.options, batched="off")
    if args.language or args.smoke:
        report(
            "Language warning (issue 25)",
            {"machine": machine(), **language_warnings(engine, args.smoke)},
        )
        if args.language:
            return
    pieces = clips(args.smoke)
    orders = 1 if args.smoke else args.orders
    results = [
        measure(engine, *shuffled(pieces, seed), args.mode, args.decodes) for seed in range(orders)
    ]
    rows: dict[str, str] = {
        "machine": machine(),
        "mode": f"batched={args.mode}, {args.decodes} decodes",
    }
    rows.update(summary(f"clips joined with {PAUSE_SECONDS} s pauses", results))
    if not args.smoke and not args.no_reading:
        audio, reference = reading()
        rows.update(
            summary(
                "long reading (248 s)", [measure(engine, audio, reference, args.mode, args.decodes)]
            )
        )
    report("Coverage pass (issue 25)", rows)


if __name__ == "__main__":
    main()
