"""Speakers by name on real voices: a real telephone call, a voice enrolled from one half
of it and named in the other; the other voice, not enrolled, keeps a number.

The call is pyannote.audio's sample (``pyannote/audio/sample/sample.wav`` and its RTTM,
in the pyannote.audio 4.0.7 wheel, MIT; two women, Diane and Sheila, on one line),
read from the wheel that ``make test`` fetches into ``bench/.cache`` (never installed);
without it this test is skipped. Words stand in every 0.3 s of each voice's own speech
(naming does not depend on the text), as in test_speaker_names.py.
"""

from __future__ import annotations

import os
import wave
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dropscribe.speakers.request import CountLimits, DiarizeRequest
from dropscribe.speakers.worker import diarize_words
from tests.test_speakers import write_wav

CACHE = Path(
    os.environ.get("DROPSCRIBE_BENCH_CACHE", Path(__file__).parent.parent / "bench" / ".cache")
)
MEMBERS = ("pyannote/audio/sample/sample.wav", "pyannote/audio/sample/sample.rttm")
RATE = 16000
#: The halves meet here (s): Diane says about 6 s before, Sheila about 9 s after.
CUT = 15.0
#: Sheila says about 6 s after this and 4.5 s before it, a fairer share than at ``CUT``
#: (1.5 s before it, three words of which diarization puts two with Diane).
SHEILA_CUT = 21.5
VOICES = {"Diane": "speaker90", "Sheila": "speaker91"}
Turn = tuple[float, float, str]


def own_speech(turns: list[Turn], voice: str, start: float, end: float) -> list[Turn]:
    """Return ``voice``'s turns between ``start`` and ``end`` (s), without the other voice."""
    found = []
    for first, last, who in turns:
        if who != voice or last <= start or first >= end:
            continue
        first, last = max(first, start), min(last, end)
        for other in (t for t in turns if t[2] != voice and t[0] < last and t[1] > first):
            first, last = (other[1], last) if other[0] <= first else (first, min(last, other[0]))
        if last - first >= 0.4:
            found.append((first, last, voice))
    return found


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray[Any, Any], list[Turn]]:
    wheels = sorted(CACHE.glob("pyannote_audio-*.whl"))
    if not wheels:
        pytest.skip("pyannote.audio's wheel is not in bench/.cache (bench/README.md, issue 22)")
    folder = tmp_path_factory.mktemp("call")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        wav, rttm = (Path(wheel.extract(member, folder)) for member in MEMBERS)
    with wave.open(str(wav)) as handle:
        assert handle.getframerate() == RATE and handle.getnchannels() == 1
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
    audio = pcm.astype(np.float32) / 32768
    turns = []
    for line in rttm.read_text().splitlines():
        fields = line.split()
        if fields:
            turns.append((float(fields[3]), float(fields[3]) + float(fields[4]), fields[7]))
    return audio, turns


@pytest.mark.parametrize(
    ("name", "enrolled", "heard", "share"),
    [
        # Named on all of Diane's words (0.785; Sheila, not enrolled, 0.412) and 85 % of
        # Sheila's (0.888; Diane 0.535): diarization puts two of hers with Diane.
        ("Diane", (0.0, CUT), (CUT, 30.0), 0.95),
        ("Sheila", (SHEILA_CUT, 30.0), (0.0, SHEILA_CUT), 0.8),
    ],
)
def test_a_voice_enrolled_from_half_a_call_is_named_in_the_other_half(
    call: tuple[np.ndarray[Any, Any], list[Turn]],
    tmp_path: Path,
    name: str,
    enrolled: tuple[float, float],
    heard: tuple[float, float],
    share: float,
) -> None:
    audio, turns = call
    voice, other = VOICES[name], next(v for n, v in VOICES.items() if n != name)
    (tmp_path / "voices" / name).mkdir(parents=True)
    enrol = [
        audio[int(a * RATE) : int(b * RATE)] for a, b, _ in own_speech(turns, voice, *enrolled)
    ]
    write_wav(tmp_path / "voices" / name / "one-half.wav", np.concatenate(enrol))
    part = audio[int(heard[0] * RATE) : int(heard[1] * RATE)]
    spans, truth = [], []
    for who in (voice, other):
        for first, last, _ in own_speech(turns, who, *heard):
            for start in np.arange(first - heard[0] + 0.05, last - heard[0] - 0.3, 0.3):
                spans.append((float(start), float(start) + 0.25))
                truth.append(who)
    limits = CountLimits(speakers=2, voices=str(tmp_path / "voices"))
    answer = diarize_words(
        DiarizeRequest(str(write_wav(tmp_path / "part.wav", part)), spans, limits)
    )
    labels = answer["labels"]
    hers = [got for got, who in zip(labels, truth, strict=True) if who == voice]
    assert hers.count(name) / len(hers) >= share, answer["details"]
    theirs = Counter(got for got, who in zip(labels, truth, strict=True) if who == other)
    stranger = theirs.most_common(1)[0][0]
    assert stranger is not None and stranger.startswith("SPEAKER_"), answer["details"]
    assert answer["details"][stranger]["enrolled"] is False
    assert answer["details"][name]["enrolled"] is True
