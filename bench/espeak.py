"""espeak-ng voices for the benchmarks' smoke forms on a clone without real recordings."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench import conversations as cv

SENTENCES = [
    "Thanks for calling, how can I help you today?",
    "I would like to change the date of my appointment next week.",
    "Of course. Which day would suit you better?",
    "Thursday afternoon, if there is still a free slot.",
    "Let me check the calendar for you, one moment please.",
    "There is an opening at three o'clock on Thursday.",
]
VOICES = {"espeak-us": ["-v", "en-us"], "espeak-f4": ["-v", "en-us+f4", "-p", "80"]}


def espeak_voices() -> dict[str, tuple[list[cv.Piece], str]]:
    """Return two espeak-ng voices, each one piece per sentence (both counted as "f")."""
    found: dict[str, tuple[list[cv.Piece], str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, voice in VOICES.items():
            pieces: list[cv.Piece] = []
            for number, sentence in enumerate(SENTENCES):
                raw, wav = Path(folder, f"{number}.raw.wav"), Path(folder, f"{number}.wav")
                subprocess.run(["espeak-ng", *voice, "-w", str(raw), sentence], check=True)
                subprocess.run(
                    ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True
                )
                audio = cv.decode(wav)
                pieces.append((audio, cv.speech(audio)))
            found[name] = (pieces, "f")
    return found
