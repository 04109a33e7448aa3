"""The voice-activity detector on real audio finds the pauses the cut planner needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.cuts import plan_parts
from dropscribe.audio.decode import decode_file
from dropscribe.audio.speech import detect_speech

AUDIO = Path(__file__).parent / "fixtures" / "audio"


def test_recordings_joined_with_a_pause_are_cut_inside_that_pause() -> None:
    fox = decode_file(AUDIO / "fox.wav", 600.0).samples
    weather = decode_file(AUDIO / "weather.wav", 600.0).samples
    pause = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    joined = np.concatenate([fox, pause, weather])
    seam = len(fox) / SAMPLE_RATE
    speech = detect_speech(joined, SAMPLE_RATE)
    assert speech and all(end > start for start, end in speech)
    parts = plan_parts(speech, len(joined) / SAMPLE_RATE, parts=2)
    assert len(parts) == 2
    cut = parts[0].keep_end
    assert seam - 0.2 <= cut <= seam + 1.7, "the cut lies in the silence between the recordings"
    assert not any(start < cut < end for start, end in speech)
