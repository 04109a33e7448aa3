"""Two-speaker conversations that look real, built from real single-speaker recordings.

Not alternated monologues (issue 22): each voice is cut at its pauses into
pieces of 0.5 to 4 s (long stretches at their quietest moment), and a
conversation takes the two voices' pieces in turns with gaps from -0.5 s
(a third of turns overlap: both talk at once) to 0.6 s; one turn in seven
is the same speaker going on. Pairs are of the same sex, and every
conversation is heard three ways: as recorded ("wide"), on a telephone line
(mu-law at 8 kHz, 300-3400 Hz: both voices share that channel) and in a room
(sox reverb). The truth is each piece's own speech, found by the voice
detector on the piece alone, placed in the mix; where two pieces overlap,
both speakers are in the truth.

Voices: the shared recordings (the LibriVox reader, female; JFK, the vosk
speaker, male), the two women of pyannote.audio's sample call (``sample.wav``
and its RTTM, shipped in the ``pyannote.audio`` wheel; fetch it with
``pip download --no-deps pyannote.audio==4.0.7``, see bench/README.md), and any
folder given with ``--voices DIR`` laid out as ``DIR/f/NAME/*.wav`` and
``DIR/m/NAME/*.wav``.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.harness import REPO, SHARED_AUDIO

RATE = 16000
Floats = npt.NDArray[np.float32]
#: Where the pyannote.audio wheel is looked for (``pip download`` puts it there).
CACHE = Path(os.environ.get("DROPSCRIBE_BENCH_CACHE", REPO / "bench" / ".cache"))
SAMPLE_MEMBERS = ("pyannote/audio/sample/sample.wav", "pyannote/audio/sample/sample.rttm")
LIBRIVOX = [
    f"librivox/sense_and_sensibility_01_austen_64kb-0{n}.wav" for n in (870, 880, 890, 920, 930)
]
#: Real voices of the shared recordings: name -> (clips, sex).
SHARED_VOICES = {
    "librivox": (LIBRIVOX, "f"),
    "jfk": (["jfk.wav"], "m"),
    "vosk": (["vosk_test.wav"], "m"),
}
CHANNELS = ("wide", "phone", "room")


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    voice: str


Piece = tuple[Floats, list[tuple[float, float]]]  # audio, its speech (seconds in the piece)


def decode(path: Path) -> Floats:
    from faster_whisper import decode_audio

    audio: Floats = decode_audio(str(path), sampling_rate=RATE)
    return audio


def write_wav(path: Path, audio: Floats) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech(audio: Floats) -> list[tuple[float, float]]:
    from dropscribe.speakers.windows import speech_regions

    return speech_regions(audio)


def pieces(audio: Floats, rng: random.Random) -> list[Piece]:
    """Return ``audio`` cut at its pauses into pieces of at most about 4 s."""
    bounds: list[tuple[float, float]] = []
    for start, end in speech(audio):
        cursor = start
        while end - cursor > 4.0:
            cut = _quietest(audio, cursor + rng.uniform(1.0, 3.5))
            bounds.append((cursor, cut))
            cursor = cut
        bounds.append((cursor, end))
    found = []
    for start, end in bounds:
        first, last = max(0, int((start - 0.1) * RATE)), min(len(audio), int((end + 0.1) * RATE))
        found.append((audio[first:last], [(start - first / RATE, end - first / RATE)]))
    return found


def _quietest(audio: Floats, near: float) -> float:
    """Return the moment of the quietest 20 ms within 0.3 s of ``near``."""
    first = max(0, int((near - 0.3) * RATE))
    part = audio[first : int((near + 0.3) * RATE)]
    energies = [float(np.mean(part[i : i + 320] ** 2)) for i in range(0, len(part) - 320, 80)]
    return (first + 80 * int(np.argmin(energies)) + 160) / RATE if energies else near


def converse(
    a: list[Piece], b: list[Piece], names: tuple[str, str], seed: int
) -> tuple[Floats, list[Turn]]:
    """Take the two voices' pieces in quick turns until one runs out; return mix and truth."""
    rng = random.Random(seed)
    queues = [list(a), list(b)]
    for queue in queues:
        rng.shuffle(queue)
    placed: list[tuple[int, Floats, list[tuple[float, float]], int]] = []
    cursor, who = 0, 0
    while queues[0] and queues[1]:
        audio, spans = queues[who].pop()
        if placed:
            same = placed[-1][3] == who
            gap = rng.uniform(0.2, 0.8) if same else rng.uniform(-0.5, 0.6)
            start = max(0, cursor + int(gap * RATE))
        else:
            start = 0
        level = 10 ** ((-26 + rng.uniform(-3, 3)) / 20)
        rms = float(np.sqrt(np.mean(audio**2))) or 1.0
        placed.append((start, audio * (level / rms), spans, who))
        cursor = max(cursor, start + len(audio))
        who = who if rng.random() < 0.15 else 1 - who
    mix = np.zeros(max(start + len(audio) for start, audio, _, _ in placed), np.float32)
    turns = []
    for start, audio, spans, speaker in placed:
        mix[start : start + len(audio)] += audio
        turns += [Turn(start / RATE + s, start / RATE + e, names[speaker]) for s, e in spans]
    return np.clip(mix, -1, 1), sorted(turns, key=lambda turn: turn.start)


def channel(audio: Floats, kind: str) -> Floats:
    """Return ``audio`` as heard on a telephone line ("phone"), in a room, or as it is."""
    if kind == "wide":
        return audio
    with tempfile.TemporaryDirectory() as folder:
        source, middle, out = (Path(folder, name) for name in ("a.wav", "m.wav", "b.wav"))
        write_wav(source, audio)
        if kind == "phone":
            narrow = ["-e", "mu-law", "-r", "8000", str(middle), "sinc", "300-3400"]
            subprocess.run(["sox", "-V1", "-D", str(source), *narrow], check=True)
            subprocess.run(
                [
                    "sox",
                    "-V1",
                    "-D",
                    str(middle),
                    "-e",
                    "signed",
                    "-b",
                    "16",
                    str(out),
                    "rate",
                    "16000",
                ],
                check=True,
            )
        else:
            room = ["reverb", "50", "50", "100", "gain", "-n", "-3"]
            subprocess.run(["sox", "-V1", "-D", str(source), str(out), *room], check=True)
        heard = decode(out)
    return (
        heard[: len(audio)]
        if len(heard) >= len(audio)
        else np.pad(heard, (0, len(audio) - len(heard)))
    )


def sample_call() -> tuple[Floats, list[Turn]] | None:
    """Return pyannote.audio's sample call and its reference turns, when the wheel is cached."""
    wheels = sorted(CACHE.glob("pyannote_audio-*.whl"))
    if not wheels:
        return None
    with zipfile.ZipFile(wheels[-1]) as wheel, tempfile.TemporaryDirectory() as folder:
        wav, rttm = (wheel.extract(member, folder) for member in SAMPLE_MEMBERS)
        audio = decode(Path(wav))
        turns = []
        for line in Path(rttm).read_text().splitlines():
            fields = line.split()
            if fields:
                start, length = float(fields[3]), float(fields[4])
                turns.append(Turn(start, start + length, fields[7]))
    return audio, turns


def call_voice(audio: Floats, turns: list[Turn], voice: str) -> list[Piece]:
    """Return ``voice``'s turns of a call, each trimmed to the part free of the other voice."""
    found = []
    for turn in turns:
        if turn.voice != voice:
            continue
        start, end = turn.start, turn.end
        for other in turns:
            if other.voice != voice and other.start < end and other.end > start:
                start, end = (
                    (other.end, end) if other.start <= start else (start, min(end, other.start))
                )
        if end - start >= 0.4:
            part = audio[int((start - 0.05) * RATE) : int((end + 0.05) * RATE)]
            found.append((part, [(0.05, 0.05 + end - start)]))
    return found


def voices(extra: Path | None) -> dict[str, tuple[list[Piece], str]]:
    """Return every real voice available: name -> (pieces, sex)."""
    rng = random.Random(0)
    found: dict[str, tuple[list[Piece], str]] = {}
    if SHARED_AUDIO.is_dir():
        for name, (clips, sex) in SHARED_VOICES.items():
            found[name] = (
                [p for clip in clips for p in pieces(decode(SHARED_AUDIO / clip), rng)],
                sex,
            )
    call = sample_call()
    if call is not None:
        for voice, name in (("speaker90", "diane"), ("speaker91", "sheila")):
            found[name] = (call_voice(*call, voice), "f")
    for sex in ("f", "m"):
        folders = sorted((extra / sex).iterdir()) if extra and (extra / sex).is_dir() else []
        for folder in folders:
            recordings = sorted(folder.glob("*.wav"))
            found[folder.name] = ([p for wav in recordings for p in pieces(decode(wav), rng)], sex)
    return found
