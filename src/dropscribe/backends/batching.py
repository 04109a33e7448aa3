"""When the local engine decodes in batches (``batched = auto``).

Batched decoding splits the audio at voice-activity boundaries and decodes
the chunks together: about twice as fast on long continuous speech, but it
drops words around long silences and gains nothing on short clips (see
bench/README.md for the measurements behind these thresholds).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

#: Shorter audio is one or two 30 s windows: nothing to batch.
MIN_BATCHED_SECONDS = 60.0
#: Below this share of speech, the silences are where batched decoding loses words.
MIN_SPEECH_RATIO = 0.75
#: A pause longer than this splits a sentence between chunks.
MAX_GAP_SECONDS = 2.0


@dataclass(frozen=True)
class SpeechProfile:
    duration: float
    speech_seconds: float
    longest_gap: float

    @property
    def speech_ratio(self) -> float:
        return self.speech_seconds / self.duration if self.duration else 0.0


def prefers_batched(profile: SpeechProfile) -> bool:
    """Return whether batched decoding is as accurate as sequential for this audio."""
    return (
        profile.duration >= MIN_BATCHED_SECONDS
        and profile.speech_ratio >= MIN_SPEECH_RATIO
        and profile.longest_gap <= MAX_GAP_SECONDS
    )


def speech_profile(audio: Any, sample_rate: int) -> SpeechProfile:
    """Measure speech and pauses with faster-whisper's voice-activity detector."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=300))
    duration = len(audio) / sample_rate
    speech = sum(span["end"] - span["start"] for span in spans) / sample_rate
    gaps = [
        (later["start"] - earlier["end"]) / sample_rate
        for earlier, later in itertools.pairwise(spans)
    ]
    return SpeechProfile(duration, speech, max(gaps, default=0.0))


def choose_batched(mode: str, audio: Any, sample_rate: int) -> bool:
    """Apply ``batched = auto | on | off`` to this audio."""
    if mode == "on":
        return True
    if mode == "off" or len(audio) / sample_rate < MIN_BATCHED_SECONDS:
        return False
    return prefers_batched(speech_profile(audio, sample_rate))
