"""One loaded faster-whisper model in a worker, and how it transcribes one recording.

The voice-activity detector runs on every recording (about 2 ms a second of
audio): it decides how the recording is decoded (batching.plan_decoding), it
turns silence and noise into an empty transcript instead of Whisper's "Thank
you." (a recording where it hears no speech is not decoded at all, and a
segment outside its speech that the decoder itself calls no speech is
dropped), it shows the coverage pass the speech no word covers, to decode
again (recovery.py), and it feeds the warnings (quality.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.speech import detect_speech
from dropscribe.backends.local.batching import (
    CLIP_SECONDS,
    Decoding,
    DecodingPlan,
    plan_decoding,
    split_windows,
    uncovered_speech,
)
from dropscribe.backends.local.decoding import (
    Decoded,
    Keep,
    decode_batched,
    decode_parts,
    decode_sequential,
    watched_batch,
)
from dropscribe.backends.local.protocol import EngineOptions, Job
from dropscribe.backends.local.quality import SegmentScore, transcript_warnings
from dropscribe.backends.local.recovery import recover_speech
from dropscribe.backends.local.threads import plan_threads
from dropscribe.config.vocabulary import Words
from dropscribe.transcript import Transcription
from dropscribe.transcript.coverage import Recovery, Span
from dropscribe.transcript.respelling import respell

#: Whisper's own threshold for "this window holds no speech".
NO_SPEECH = 0.6


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """Return the device and compute type to load with: int8 on a CPU, float16 on a GPU."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "default":
        # int8 is about 1.4x faster than float32 on a CPU, at the same accuracy.
        compute_type = "int8" if device == "cpu" else "float16"
    return device, compute_type


class Engine:
    """The model, loaded once, with ``parallel`` decodes of ``threads`` threads each."""

    def __init__(self, options: EngineOptions) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        device, compute_type = resolve_device(options.device, options.compute_type)
        plan = plan_threads(
            options.cpu_threads, options.parallel_decodes, options.workers, device=device
        )
        self.parallel = plan.parallel_decodes
        self.threads = plan.threads_per_decode
        self.model = WhisperModel(
            options.model_load,
            device=device,
            compute_type=compute_type,
            cpu_threads=plan.threads_per_decode,
            num_workers=self.parallel,
        )
        self.multilingual = bool(self.model.model.is_multilingual)

    def transcribe(
        self,
        job: Job,
        audio: Any,
        decodes: int,
        report: Callable[[float], None],
        noted: Callable[[dict[str, object]], None] | None = None,
    ) -> tuple[Transcription, Decoding]:
        """Transcribe decoded ``audio`` using up to ``decodes`` parallel decodes.

        Returns the transcription (warnings included) and how it was decoded;
        ``noted`` is told what the coverage pass did, when it found speech missing.
        """
        started = time.perf_counter()
        duration = len(audio) / SAMPLE_RATE
        # Spans of at most a window, split at their longest inner silence, as batched
        # decoding was measured with.
        speech = detect_speech(audio, SAMPLE_RATE, max_speech_seconds=CLIP_SECONDS)
        plan = plan_decoding(self.options.batched, speech, duration, decodes)
        decoded, decoding = self._decode(job, audio, plan, speech, report, decodes)
        if speech:
            decoded, recovery = self._recover(job, audio, decoded, speech)
            if recovery.stretches and noted is not None:
                noted(recovery.log_fields())
        if job.terms and self.options.respell_terms:
            # Near misses the prompt did not prevent ("next cloud"), written as the
            # terms; measured to touch no other word (bench/README.md, issue 27).
            decoded.segments = respell(decoded.segments, Words.split_terms_text(job.terms))
        result = Transcription(
            segments=decoded.segments,
            language=decoded.language or self._language(job, audio),
            duration=duration,
            prediction_time_ms=(time.perf_counter() - started) * 1000,
            model=self.options.model_name,
            warnings=transcript_warnings(
                decoded.segments,
                decoded.scores,
                speech,
                duration,
                english_only=not self.multilingual,
            ),
        )
        return result, decoding

    def _decode(
        self,
        job: Job,
        audio: Any,
        plan: DecodingPlan,
        speech: list[tuple[float, float]],
        report: Callable[[float], None],
        decodes: int,
    ) -> tuple[Decoded, Decoding]:
        if not speech:
            return Decoded(), "sequential"  # nothing to hear: Whisper would invent words
        options = self._decode_options(job)
        keep = heard(speech)
        if plan.decoding == "parts":
            options = {**options, "language": self._language(job, audio)}
            options["vad_filter"] = self.options.vad_filter
            decoded = decode_parts(self.model, audio, plan.parts, options, report, keep, decodes)
            return decoded, "parts"
        if plan.decoding == "batched":
            groups = split_windows(plan.clips, self.parallel)
            if len(groups) > 1:
                options = {**options, "language": self._language(job, audio)}
            batch = watched_batch(self.options.batch_size, groups) if job.watched else None
            decoded = decode_batched(
                self.model, audio, groups, options, batch or self.options.batch_size, report, keep
            )
            if not uncovered_speech(speech, decoded.segments):
                return decoded, "batched"
            # Batched decoding dropped speech the detector heard (it can skip a whole
            # chunk of noisy audio): decode the file again, sequentially. Decoding only
            # the holes was measured too: faster, but it lost words at their edges.
            options = self._decode_options(job)
            report(0.0)
            options["vad_filter"] = self.options.vad_filter
            sequential = decode_sequential(self.model, audio, options, report, keep)
            return sequential, "sequential"
        options["vad_filter"] = self.options.vad_filter
        return decode_sequential(self.model, audio, options, report, keep), "sequential"

    def _recover(
        self, job: Job, audio: Any, decoded: Decoded, speech: list[Span]
    ) -> tuple[Decoded, Recovery]:
        """The coverage pass (recovery.py): speech that no word covers, decoded again."""
        options = self._decode_options(job)
        options["language"] = decoded.language or self._language(job, audio)
        options["vad_filter"] = self.options.vad_filter
        return recover_speech(self.model, audio, decoded, speech, options, heard(speech))

    def _decode_options(self, job: Job) -> dict[str, Any]:
        return {
            "language": None if job.language == "auto" else job.language,
            "task": job.task,
            "beam_size": self.options.beam_size,
            "word_timestamps": self.options.word_timestamps,
            **self._words(job),
        }

    def _words(self, job: Job) -> dict[str, str | None]:
        """The folder's words as decode options. Each part and each batch is a decode of
        its own, so each gets them; in one sequential decode the initial prompt primes
        the first window and hotwords every window. The terms go in the initial prompt
        unless ``vocabulary_as = "hotwords"``: on a long sequential decode tiny.en lost
        whole windows with hotwords (bench/README.md, issue 27)."""
        prompt = job.prompt or self.options.initial_prompt
        if self.options.vocabulary_as == "hotwords":
            return {"initial_prompt": prompt, "hotwords": job.terms}
        joined = " ".join(part for part in (prompt, job.terms) if part)
        return {"initial_prompt": joined or None, "hotwords": None}

    def _language(self, job: Job, audio: Any) -> str:
        """One language for the whole file, detected as sequential decoding does."""
        if job.language != "auto":
            return job.language
        if not self.multilingual:
            return "en"  # an English-only model: "auto" means English
        return str(self.model.detect_language(audio)[0])


def heard(speech: list[tuple[float, float]]) -> Keep:
    """Keep a segment unless the decoder itself calls it no speech and the detector
    heard nothing there: Whisper's "Thank you." and "You" over silence and noise."""

    def keep(score: SegmentScore) -> bool:
        overlaps = any(start < score.end and end > score.start for start, end in speech)
        return overlaps or score.no_speech_prob < NO_SPEECH

    return keep
