"""Where the speech is: faster-whisper's voice-activity detector (Silero), in seconds."""

from __future__ import annotations

from typing import Any

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.cuts import Span

#: The shortest pause between spans of speech. The pause between two words is
#: enough to end a batched window there, and the finer cuts fill windows closer to
#: 30 s (the 248 s reading: 9 windows instead of 11 with 300 ms, 10 % faster).
MIN_SILENCE_MS = 100
#: faster-whisper pads each span by 400 ms on each side by default, which hides a
#: 0.6 s pause entirely; a little padding keeps word edges inside the spans.
SPEECH_PAD_MS = 100


def detect_speech(
    audio: Any,
    sample_rate: int = SAMPLE_RATE,
    *,
    min_silence_ms: int = MIN_SILENCE_MS,
    speech_pad_ms: int = SPEECH_PAD_MS,
    max_speech_seconds: float = float("inf"),
) -> list[Span]:
    """Return the spans of speech in ``audio`` (a mono float32 array), in seconds.

    Needs faster-whisper (the 'local' extra); untrusted media should be decoded
    and passed through this in a worker process, as the local engine does.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        max_speech_duration_s=max_speech_seconds,
    )
    spans = get_speech_timestamps(audio, options, sampling_rate=sample_rate)
    return [(span["start"] / sample_rate, span["end"] / sample_rate) for span in spans]
