"""Two-speaker recordings built from real single-speaker clips, with known truth.

Each voice contributes utterances (a clip cut at its pauses); a conversation
alternates the two voices' utterances with realistic gaps, some negative: the
next speaker starts before the last one stops, and both are heard at once.
The truth is the list of turns (start, end, voice).
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.harness import SHARED_AUDIO

RATE = 16000
Floats = npt.NDArray[np.float32]

LIBRIVOX = [
    f"librivox/sense_and_sensibility_01_austen_64kb-0{n}.wav" for n in (870, 880, 890, 920, 930)
]
#: Real voices: (name, clips). Clips are cut into utterances at their pauses.
REAL_VOICES = {
    "librivox": LIBRIVOX,
    "jfk": ["jfk.wav"],
    "vosk": ["vosk_test.wav"],
    "goforward": ["goforward.wav"],
}
#: Synthetic voices: espeak-ng's arguments. The first is the tests' fixture voice; the
#: last is the same formant engine as the first, a pair the encoder cannot tell apart.
ESPEAK_VOICES = {
    "espeak-us": ["-v", "en-us"],
    "espeak-f4": ["-v", "en-us+f4", "-p", "80"],
    "espeak-rp": ["-v", "en-gb-x-rp+f2", "-p", "90"],
    "espeak-klatt": ["-v", "en+klatt2"],
}
SENTENCES = [
    "Thanks for calling, how can I help you today?",
    "I would like to change the date of my appointment next week.",
    "Of course. Which day would suit you better?",
    "Thursday afternoon, if there is still a free slot.",
    "Let me check the calendar for you, one moment please.",
    "There is an opening at three o'clock on Thursday.",
]


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    voice: str


def decode(path: Path) -> Floats:
    from faster_whisper import decode_audio

    audio: Floats = decode_audio(str(path), sampling_rate=RATE)
    return audio


def utterances(audio: Floats) -> list[Floats]:
    """Return ``audio`` cut at its pauses (the VAD's speech regions, 0.15 s margins)."""
    from dropscribe.speakers.windows import speech_regions

    pieces = []
    for start, end in speech_regions(audio):
        first = max(0, int((start - 0.15) * RATE))
        last = min(len(audio), int((end + 0.15) * RATE))
        pieces.append(audio[first:last])
    return pieces or [audio]


def real_voice(name: str) -> list[Floats]:
    clips = [decode(SHARED_AUDIO / clip) for clip in REAL_VOICES[name]]
    return [piece for clip in clips for piece in utterances(clip)]


def espeak_voice(voice: list[str], sentences: list[str] = SENTENCES) -> list[Floats]:
    """Return one utterance per sentence, spoken by espeak-ng with ``voice`` at 16 kHz."""
    pieces = []
    with tempfile.TemporaryDirectory() as folder:
        for number, sentence in enumerate(sentences):
            raw, wav = Path(folder, f"{number}.raw.wav"), Path(folder, f"{number}.wav")
            subprocess.run(["espeak-ng", *voice, "-w", str(raw), sentence], check=True)
            subprocess.run(
                ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True
            )
            pieces.append(decode(wav))
    return pieces


def converse(
    first: list[Floats], second: list[Floats], names: tuple[str, str], seed: int
) -> tuple[Floats, list[Turn]]:
    """Alternate the two voices' utterances; return the mix and its turns.

    Gaps are drawn from -0.3 s (overlap) to 0.7 s; levels are set to about
    -26 dBFS with ±3 dB of spread, as two phones on one line would be.
    """
    rng = random.Random(seed)
    order: list[tuple[Floats, str]] = []
    for index in range(max(len(first), len(second))):
        if index < len(first):
            order.append((first[index], names[0]))
        if index < len(second):
            order.append((second[index], names[1]))
    placed: list[tuple[int, Floats, str]] = []
    cursor = 0
    for piece, name in order:
        start = max(0, cursor + int(rng.uniform(-0.3, 0.7) * RATE)) if placed else 0
        level = 10 ** ((-26 + rng.uniform(-3, 3)) / 20)
        rms = float(np.sqrt(np.mean(piece**2))) or 1.0
        placed.append((start, piece * (level / rms), name))
        cursor = start + len(piece)
    mix = np.zeros(max(start + len(piece) for start, piece, _ in placed), np.float32)
    turns = []
    for start, piece, name in placed:
        mix[start : start + len(piece)] += piece
        turns.append(Turn(start / RATE, (start + len(piece)) / RATE, name))
    return np.clip(mix, -1, 1), turns


def truth_at(turns: list[Turn], moment: float) -> str | None:
    """Return the voice speaking at ``moment``; None in silence or where two overlap."""
    voices = {turn.voice for turn in turns if turn.start <= moment < turn.end}
    return voices.pop() if len(voices) == 1 else None
