"""The three ways a worker decodes one recording, on a loaded faster-whisper model.

- sequential: ``model.transcribe`` over the whole recording, one decode;
- batched: the speech in windows of up to 30 s, decoded in batches, the runs
  of windows side by side on the parallel decodes (continuous speech);
- parts: the recording cut at pauses (:mod:`dropscribe.audio.cuts`), each
  part decoded sequentially, side by side, then stitched.

Each reports progress per finished segment, as the seconds of the recording
done over all its lanes, and returns the segments with their decoder scores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.cuts import Part
from dropscribe.audio.stitch import PartTranscript, stitch
from dropscribe.backends.local.quality import SegmentScore
from dropscribe.transcript import Segment, make_segment, make_word

ReportSeconds = Callable[[float], None]
#: Whether a decoded segment stays in the transcript (see local_engine.heard).
Keep = Callable[[SegmentScore], bool]


def keep_all(score: SegmentScore) -> bool:
    return True


@dataclass
class Decoded:
    segments: list[Segment] = field(default_factory=list)
    scores: list[SegmentScore] = field(default_factory=list)
    language: str | None = None
    #: faster-whisper's own segments, in order, for those who need other offsets.
    raw: list[Any] = field(default_factory=list)


class Lanes:
    """Progress over decodes running side by side: the sum of what each has done."""

    def __init__(self, report: ReportSeconds, lanes: int) -> None:
        self._report = report
        self._done = [0.0] * lanes
        self._lock = threading.Lock()

    def advance(self, lane: int, seconds: float) -> None:
        with self._lock:
            self._done[lane] = max(self._done[lane], seconds)
            total = sum(self._done)
        self._report(total)


def decode_sequential(
    model: Any,
    audio: Any,
    options: dict[str, Any],
    report: ReportSeconds,
    keep: Keep = keep_all,
) -> Decoded:
    segments, info = model.transcribe(audio, **options)
    decoded = _collect(segments, 0.0, report, keep)
    decoded.language = info.language
    return decoded


#: Progress updates a watched lane of batched windows should give at least.
WATCHED_STEPS = 4


def watched_batch(batch_size: int, groups: list[list[dict[str, float]]]) -> int:
    """Return the batch size for a watched job: faster-whisper yields a batch's segments
    only once the whole batch is decoded, so a lane of a few windows in one batch would
    report nothing until its end (a 198 s recording: 0 % then done). Smaller batches
    let the bar move; they cost decoding time (bench/README.md), so only when watched."""
    longest = max((len(group) for group in groups), default=1)
    return max(1, min(batch_size, -(-longest // WATCHED_STEPS)))


def decode_batched(
    model: Any,
    audio: Any,
    groups: list[list[dict[str, float]]],
    options: dict[str, Any],
    batch_size: int,
    report: ReportSeconds,
    keep: Keep = keep_all,
) -> Decoded:
    """Decode runs of windows side by side; ``options`` must name the language when
    there is more than one run, so that all runs agree."""
    from faster_whisper import BatchedInferencePipeline

    lanes = Lanes(report, len(groups))

    def run(index: int) -> Decoded:
        # A pipeline per run: it keeps the last word's end between batches.
        pipeline = BatchedInferencePipeline(model=model)
        start = groups[index][0]["start"]
        segments, info = pipeline.transcribe(
            audio, batch_size=batch_size, clip_timestamps=groups[index], **options
        )
        decoded = _collect(segments, 0.0, lambda end: lanes.advance(index, end - start), keep)
        decoded.language = info.language
        return decoded

    with ThreadPoolExecutor(len(groups), thread_name_prefix="batched") as pool:
        runs = list(pool.map(run, range(len(groups))))
    joined = Decoded(language=runs[0].language)
    for decoded in runs:
        joined.segments += decoded.segments
        joined.scores += decoded.scores
    return joined


def decode_parts(
    model: Any,
    audio: Any,
    parts: list[Part],
    options: dict[str, Any],
    report: ReportSeconds,
    keep: Keep = keep_all,
    decodes: int = 2,
) -> Decoded:
    """Decode each part on its own, ``decodes`` at a time in the recording's order, and
    stitch them (times, seams, language).

    Parts run side by side, so none is prompted with the words before its cut;
    bench/README.md (issue 16) measured what that costs.
    """
    lanes = Lanes(report, len(parts))

    def run(index: int) -> tuple[PartTranscript, list[SegmentScore]]:
        part = parts[index]
        clip = audio[int(part.start * SAMPLE_RATE) : int(part.end * SAMPLE_RATE)]
        segments, info = model.transcribe(clip, **options)
        decoded = _collect(segments, part.start, lambda end: lanes.advance(index, end), keep)
        relative = [_segment_dict(segment, 0.0) for segment in decoded.raw]
        return PartTranscript(part, relative, info.language), decoded.scores

    with ThreadPoolExecutor(max(1, min(decodes, len(parts))), thread_name_prefix="parts") as pool:
        results = list(pool.map(run, range(len(parts))))
    stitched = stitch([transcript for transcript, _ in results])
    scores = [score for _, part_scores in results for score in part_scores]
    return Decoded(stitched.segments, scores, stitched.language)


def _collect(segments: Any, offset: float, advance: ReportSeconds, keep: Keep) -> Decoded:
    """The segments on the recording's clock (``offset``: where the audio began)."""
    decoded = Decoded()
    for segment in segments:
        score = SegmentScore(
            segment.start + offset,
            segment.end + offset,
            float(segment.avg_logprob),
            float(segment.compression_ratio),
            float(segment.no_speech_prob),
        )
        if keep(score):
            decoded.segments.append(_segment_dict(segment, offset))
            decoded.scores.append(score)
            decoded.raw.append(segment)
        advance(float(segment.end))
    return decoded


def _segment_dict(segment: Any, offset: float) -> Segment:
    words = [
        make_word(word.word, word.start + offset, word.end + offset, word.probability)
        for word in (segment.words or [])
    ]
    return make_segment(segment.text, segment.start + offset, segment.end + offset, words)


def decode_stretch(
    model: Any, audio: Any, start: float, end: float, options: dict[str, Any], keep: Keep
) -> Decoded:
    """Decode ``[start, end)`` of the recording alone, without the words before it as a
    prompt (the coverage pass: the stretch the long-form decoding skipped)."""
    clip = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    segments, info = model.transcribe(clip, **{**options, "condition_on_previous_text": False})
    decoded = _collect(segments, start, lambda _end: None, keep)
    decoded.language = info.language
    return decoded
