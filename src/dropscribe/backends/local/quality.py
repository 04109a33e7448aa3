"""Say when a transcript is probably wrong, from what the decoder and the detector saw.

Pure: handed the segments' scores, the speech the voice-activity detector
heard and the recording's length; returns sentences for the transcript's
``warnings``. The thresholds are Whisper's own where it has one (a log
probability of -1 and a compression ratio of 2.4 are where it retries a
window at a higher temperature); the others were measured on
../shared/audio (bench/README.md, issue 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dropscribe.audio.cuts import Span
from dropscribe.transcript import Segment
from dropscribe.transcript.coverage import missing_speech, missing_warning

#: Whisper's own threshold: below it, a window is decoded again.
LOW_LOGPROB = -1.0
#: Whisper's own threshold: above it, the text repeats itself (the decoder looped).
REPETITIVE_COMPRESSION = 2.4
#: An English-only model on other languages gives words it is unsure of: measured,
#: French and Chinese clips averaged word probabilities 0.49-0.64 and log-probabilities
#: -0.79 to -1.11; the English recordings 0.77-0.95 and -0.31 to -0.68.
FOREIGN_WORD_PROBABILITY = 0.66
FOREIGN_LOGPROB = -0.75
#: Fewer words are too little to judge a language by: espeak's "Yes." alone averaged
#: 0.54-0.63 (issue 25), while every English recording of two words or more
#: averaged 0.76 or more (and the French clip heard as "Thank you." 0.49).
FOREIGN_MIN_WORDS = 2
#: Below this share of speech, the recording is "mostly silence".
MOSTLY_SILENCE = 0.1
#: Shorter recordings are too short to call mostly silent (a word in a 2 s clip).
SILENCE_MIN_SECONDS = 5.0


@dataclass(frozen=True)
class SegmentScore:
    """What the decoder said about one segment (on the recording's clock)."""

    start: float
    end: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


def transcript_warnings(
    segments: Sequence[Segment],
    scores: Sequence[SegmentScore],
    speech: Sequence[Span] | None,
    duration: float,
    *,
    english_only: bool,
) -> list[str]:
    """Return a sentence per reason to doubt the transcript, in a fixed order.

    Every engine's transcript is judged here: a remote engine's has its decoder's
    scores but no voice detector's spans (``speech`` None), so the two rules about
    what the detector heard are not asked.
    """
    warnings: list[str] = []
    if speech is not None:
        warnings += _silence(speech, duration)
    logprob = _weighted_logprob(scores)
    if logprob is not None and logprob < LOW_LOGPROB:
        warnings.append(
            f"The engine was unsure of this transcript (average log-probability "
            f"{logprob:.2f}); check it against the audio, or use a larger model."
        )
    looping = [score for score in scores if score.compression_ratio > REPETITIVE_COMPRESSION]
    if looping:
        warnings.append(
            f"A segment repeats itself (at {looping[0].start:.1f} s): the engine may have "
            "looped there; check that part against the audio."
        )
    if speech is not None:
        # After the coverage pass (engine.py): what is still missing is named by its times.
        missing = missing_warning(missing_speech(segments, speech))
        if missing is not None:
            warnings.append(missing)
    if english_only and segments and _sounds_foreign(segments, logprob):
        warnings.append(
            "The English-only model decoded speech that does not sound like English; if "
            'it is another language, use a multilingual model (such as "small") and set '
            "its language."
        )
    return warnings


def _silence(speech: Sequence[Span], duration: float) -> list[str]:
    speech_seconds = sum(end - start for start, end in speech)
    if duration >= SILENCE_MIN_SECONDS and speech_seconds < MOSTLY_SILENCE * duration:
        return [
            f"The recording is mostly silence or noise (speech in {speech_seconds:.0f} s "
            f"of {duration:.0f} s)."
        ]
    return []


def _weighted_logprob(scores: Sequence[SegmentScore]) -> float | None:
    total = sum(max(score.end - score.start, 0.01) for score in scores)
    if not scores:
        return None
    return sum(s.avg_logprob * max(s.end - s.start, 0.01) for s in scores) / total


def _sounds_foreign(segments: Sequence[Segment], logprob: float | None) -> bool:
    """Judge the language on the words' own probabilities.

    A segment's log-probability also scores its timestamps: 0.5 s of silence before
    "Go forward ten meters" took it from -0.67 to -0.78, past FOREIGN_LOGPROB, while
    the words' probabilities rose (0.76 to 0.86). On every clean English recording,
    with and without silence before or after it, the words averaged 0.76 or more,
    the French and Chinese ones 0.60 or less (bench/README.md, issue 25). Words the
    detector did not place in speech count too: an English-only model's "Thank you
    very much" over French is such words. The log-probability decides only where
    there are no word timings.
    """
    probabilities = [
        float(score)
        for segment in segments
        for word in segment["words"]
        if (score := word["score"]) is not None
    ]
    if probabilities:
        if len(probabilities) < FOREIGN_MIN_WORDS:
            return False
        return sum(probabilities) / len(probabilities) < FOREIGN_WORD_PROBABILITY
    return logprob is not None and logprob < FOREIGN_LOGPROB
