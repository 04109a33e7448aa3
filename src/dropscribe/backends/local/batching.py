"""How the local engine decodes a recording: sequentially, in batches, or in parts.

Batched decoding splits the audio at voice-activity boundaries and decodes
the chunks together: about twice as fast on long continuous speech, but it
gains nothing on short clips, and on some real recordings it drops whole
chunks (noisy audio after a change of speaker, long pauses). So `auto`
batches only long, dense speech, and then checks the result against the
voice-activity detector: if speech was left without text, the file is decoded
again sequentially. Where two or more parallel decodes are free and the
recording has pauses, it is cut into parts decoded side by side instead
(issue 16). bench/README.md has the measurements behind the numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dropscribe.audio.cuts import Part, Span, plan_parts

#: Whisper decodes 30 s windows.
CLIP_SECONDS = 30.0
#: Shorter audio is one or two 30 s windows: nothing to batch.
MIN_BATCHED_SECONDS = 60.0
#: Below this share of speech, the silences are where batched decoding loses words.
MIN_SPEECH_RATIO = 0.75
#: A longer pause marks a recording where batched windows lost words (measured: a
#: 1.3 s pause cost 3 points of WER, recordings without pauses over 0.5 s lost none).
MAX_GAP_SECONDS = 1.0
#: After batched decoding, speech the transcript leaves uncovered beyond these
#: (one stretch, or a share of all speech) sends the file to sequential decoding.
MAX_UNCOVERED_SECONDS = 4.0
MAX_UNCOVERED_SHARE = 0.1
#: Holes shorter than this are the pauses between words, not dropped speech.
HOLE_MIN_SECONDS = 0.5


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


def clips_from_spans(spans: list[Span], longest: float = CLIP_SECONDS) -> list[dict[str, float]]:
    """Group speech into windows of at most ``longest`` seconds, each one stretch of the
    recording from the start of its first span to the end of its last.

    faster-whisper's own batching splices the speech spans together and drops
    the pauses; measured here, that cut words at the joins and lost whole
    chunks (WER 0.225 against 0.060 with these contiguous windows, and slower).
    """
    clips: list[list[float]] = []
    for start, end in spans:
        while end - start > longest:  # a single span longer than a window
            clips.append([start, start + longest])
            start += longest
        if clips and end - clips[-1][0] <= longest:
            clips[-1][1] = end
        else:
            clips.append([start, end])
    return [{"start": round(start, 3), "end": round(end, 3)} for start, end in clips]


def split_windows(clips: list[dict[str, float]], groups: int) -> list[list[dict[str, float]]]:
    """Split the windows, in order, into at most ``groups`` runs of nearly equal length,
    to be decoded side by side."""
    groups = max(1, min(groups, len(clips)))
    size, extra = divmod(len(clips), groups)
    runs, start = [], 0
    for index in range(groups):
        end = start + size + (1 if index < extra else 0)
        runs.append(clips[start:end])
        start = end
    return runs


def speech_profile(spans: list[Span], duration: float) -> SpeechProfile:
    speech = sum(end - start for start, end in spans)
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
    return SpeechProfile(duration, speech, max(gaps, default=0.0))


def uncovered_speech(spans: list[Span], segments: Sequence[Mapping[str, Any]]) -> list[Span]:
    """Return the stretches of speech that no segment covers, when they matter: one of
    MAX_UNCOVERED_SECONDS or more, or more than MAX_UNCOVERED_SHARE of all speech.
    An empty list means the transcript covers the speech well enough."""
    covered = sorted((float(s["start"]), float(s["end"])) for s in segments)
    holes: list[Span] = []
    for start, end in spans:
        cursor = start
        for c_start, c_end in covered:
            if c_end <= cursor or c_start >= end:
                continue
            if c_start > cursor:
                holes.append((cursor, c_start))
            cursor = max(cursor, c_end)
        if cursor < end:
            holes.append((cursor, end))
    total = sum(end - start for start, end in spans) or 1.0
    missing = sum(end - start for start, end in holes)
    if any(end - start >= MAX_UNCOVERED_SECONDS for start, end in holes) or (
        missing / total > MAX_UNCOVERED_SHARE
    ):
        return [(start, end) for start, end in holes if end - start >= HOLE_MIN_SECONDS]
    return []


#: The detector's spans as faster-whisper pads them by default (400 ms a side), which
#: the rule above was measured with; ours are padded 100 ms (audio/speech.py).
PROFILE_PAD_SECONDS = 0.3

#: Parts of at most one decoding window, cut at pauses, handed to the free decodes in
#: order. Measured on the real recordings joined with 1.5 s pauses (bench/README.md,
#: issue 16): two halves took 21.9 s where 30 s parts took 8.8 s, because a half
#: that starts without context fell back to sampling at higher temperatures over
#: a whole window; short parts also finish evenly on the decodes.
PART_SECONDS = 30.0

Decoding = Literal["sequential", "batched", "parts"]


@dataclass(frozen=True)
class DecodingPlan:
    """How one recording is decoded, with the windows or parts that needs."""

    decoding: Decoding
    clips: list[dict[str, float]] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)


def plan_decoding(mode: str, speech: list[Span], duration: float, decodes: int) -> DecodingPlan:
    """Apply ``batched = auto | on | off | parts`` to a recording.

    ``speech`` is what the voice-activity detector heard; ``decodes`` the
    parallel decodes this recording may use now (local_threads.decodes_for_file).
    ``auto``: under 60 s, sequential. Longer, with two or more decodes free and
    pauses to cut at, parts side by side; else batched for long dense speech
    (prefers_batched), sequential for the rest. bench/README.md, issue 16, has
    the measurements.
    """
    if mode == "off" or not speech:
        return DecodingPlan("sequential")
    widened = widen(speech, PROFILE_PAD_SECONDS, duration)
    if mode == "on":
        return DecodingPlan("batched", clips=clips_from_spans(widened))
    if mode == "auto" and duration < MIN_BATCHED_SECONDS:
        return DecodingPlan("sequential")
    dense = prefers_batched(speech_profile(widened, duration))
    if decodes > 1:
        parts = plan_parts(speech, duration, parts=decodes, max_seconds=PART_SECONDS)
        # Continuous speech would need cuts inside it: batched decoding is faster there.
        if len(parts) > 1 and (mode == "parts" or not dense or all(p.at_pauses for p in parts)):
            return DecodingPlan("parts", parts=parts)
    if mode == "auto" and dense:
        return DecodingPlan("batched", clips=clips_from_spans(widened))
    return DecodingPlan("sequential")


def widen(spans: list[Span], by: float, duration: float) -> list[Span]:
    """Return the spans padded by ``by`` seconds a side, as the detector pads them: where
    two spans are closer than twice that, each takes half the silence between them, so
    they touch but stay apart (their boundary is where a batched window may end)."""
    ordered = sorted(spans)
    widened: list[Span] = []
    for index, (start, end) in enumerate(ordered):
        before = ordered[index - 1][1] if index else None
        after = ordered[index + 1][0] if index + 1 < len(ordered) else None
        low = max(0.0, start - by) if before is None else max(start - by, (before + start) / 2)
        high = min(duration, end + by) if after is None else min(end + by, (end + after) / 2)
        widened.append((low, high))
    return widened
