"""The code that runs inside a local engine worker process.

Untrusted media is decoded only here. The model is loaded once; a decoding
thread prepares the next file's audio while one thread per parallel decode
transcribes the files before it. Messages to the parent are tuples on a multiprocessing pipe:

    ("ready", info) | ("fatal", message) | ("decoding", job_id) | ("audio", job_id, track)
    ("started", job_id, duration) | ("progress", job_id, seconds)
    ("done", job_id, transcription_dict) | ("error", job_id, kind, message)

``kind`` is "bad_input" (permanent) or "retryable".
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from dropscribe.audio import SAMPLE_RATE
from dropscribe.backends.local_threads import plan_threads


def main(connection: Connection, options: dict[str, Any]) -> None:
    """Load the model, then transcribe every job the parent sends until it closes the pipe."""
    # Ctrl-C reaches the whole process group; the parent decides when this worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send_lock = threading.Lock()

    def send(*message: Any) -> None:
        with send_lock:
            try:
                connection.send(message)
            except (BrokenPipeError, ConnectionResetError):
                os._exit(0)  # the daemon is gone (killed): nobody is left to tell

    # faster-whisper makes a (disabled) tqdm bar per file, and tqdm's default lock is a
    # multiprocessing semaphore that outlives the worker; a thread lock is all it needs here.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    try:
        engine = _Engine(options)
    except Exception as exc:  # any failure to load is reported as one sentence
        send("fatal", _load_error_sentence(options["model_load"], exc))
        return
    send(
        "ready",
        {
            "multilingual": engine.multilingual,
            "pid": os.getpid(),
            "parallel": engine.parallel,
            "threads": engine.threads,
        },
    )

    decoded: queue.Queue[tuple[dict[str, Any], Any] | None] = queue.Queue(maxsize=1)
    threading.Thread(target=_decode_loop, args=(connection, decoded, send), daemon=True).start()
    # One transcribing thread per parallel decode: files side by side use the cores
    # that one decode cannot (bench/README.md, issue 7).
    for _ in range(engine.parallel - 1):
        threading.Thread(
            target=_transcribe_loop, args=(engine, decoded, send, connection), daemon=True
        ).start()
    _transcribe_loop(engine, decoded, send, connection)


def _transcribe_loop(
    engine: _Engine,
    decoded: queue.Queue[tuple[dict[str, Any], Any] | None],
    send: Any,
    connection: Connection,
) -> None:
    while True:
        item = decoded.get()
        if item is None:
            # Tearing down the model and its thread pools can take seconds; there is
            # nothing left to flush (the pipe is unbuffered), so leave at once.
            connection.close()
            os._exit(0)
        job, audio = item
        try:
            result = engine.transcribe(job, audio, send)
        except Exception as exc:
            send("error", job["job_id"], "retryable", f"The engine failed on this file: {exc}")
        else:
            send("done", job["job_id"], result)


def _decode_loop(
    connection: Connection,
    decoded: queue.Queue[tuple[dict[str, Any], Any] | None],
    send: Any,
) -> None:
    from dropscribe.audio.decode import decode_file
    from dropscribe.errors import BadInput

    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            job = None
        if job is None:  # the parent asks us to stop, or is gone
            decoded.put(None)
            return
        send("decoding", job["job_id"])
        try:
            audio = decode_file(job["path"], job["max_duration"], job.get("audio_track", "auto"))
        except BadInput as exc:
            send("error", job["job_id"], "bad_input", str(exc))
            continue
        except Exception as exc:  # this thread must live on for the next file
            send("error", job["job_id"], "retryable", f"Decoding failed: {exc}")
            continue
        send("audio", job["job_id"], audio.choice.log_fields())
        decoded.put((job, audio.samples))


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """Return the device and compute type to load with: int8 on a CPU, float16 on a GPU."""
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "default":
        # int8 is about 1.4x faster than float32 on a CPU, at the same accuracy.
        compute_type = "int8" if device == "cpu" else "float16"
    return device, compute_type


class _Engine:
    def __init__(self, options: dict[str, Any]) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        device, compute_type = resolve_device(options["device"], options["compute_type"])
        plan = plan_threads(
            options["cpu_threads"], options["parallel_decodes"], options["workers"], device=device
        )
        self.parallel = plan.parallel_decodes
        self.threads = plan.threads_per_decode
        self.model = WhisperModel(
            options["model_load"],
            device=device,
            compute_type=compute_type,
            cpu_threads=plan.threads_per_decode,
            num_workers=self.parallel,
        )
        self.multilingual = bool(self.model.model.is_multilingual)

    def transcribe(self, job: dict[str, Any], audio: Any, send: Any) -> dict[str, Any]:
        from dropscribe.backends.batching import choose_batched, uncovered_speech

        started = time.perf_counter()
        duration = len(audio) / SAMPLE_RATE
        send("started", job["job_id"], duration)
        options = self.options
        kwargs: dict[str, Any] = {
            "language": None if job["language"] == "auto" else job["language"],
            "task": job["task"],
            "beam_size": options["beam_size"],
            "word_timestamps": options["word_timestamps"],
            "initial_prompt": options["initial_prompt"],
        }
        choice = choose_batched(options["batched"], audio, SAMPLE_RATE)
        mode = "sequential"
        collected: list[dict[str, Any]] = []
        language = None
        if choice.batched:
            clips = choice.clips()
            if clips:
                collected, language = self._transcribe_batched(audio, clips, kwargs, job, send)
            mode = "batched"
            holes = uncovered_speech(choice.speech, collected) if choice.speech else []
            if holes:
                # Batched decoding dropped speech the detector heard (it can skip a whole
                # chunk of noisy audio): decode the file again, sequentially. Decoding only
                # the holes was measured too: faster, but it lost words at their edges.
                collected, mode = [], "batched, then sequential"
        if not collected and mode != "batched":
            segments, info = self.model.transcribe(
                audio, vad_filter=options["vad_filter"], **kwargs
            )
            collected = self._collect(segments, job, send)
            language = info.language
        elapsed_ms = (time.perf_counter() - started) * 1000
        return {
            "segments": collected,
            "language": language,
            "duration": duration,
            "prediction_time_ms": elapsed_ms,
            "model": options["model_name"],
            "decoding": mode,
        }

    def _transcribe_batched(
        self,
        audio: Any,
        clips: list[dict[str, float]],
        kwargs: dict[str, Any],
        job: dict[str, Any],
        send: Any,
    ) -> tuple[list[dict[str, Any]], str]:
        """Decode the windows in batches, the groups of windows side by side on the
        model's parallel decodes (one group per decode, in the recording's order)."""
        from faster_whisper import BatchedInferencePipeline

        from dropscribe.backends.batching import split_windows

        groups = split_windows(clips, self.parallel)
        if kwargs["language"] is None and len(groups) > 1:
            # One language for the whole file, detected as sequential decoding does.
            if self.multilingual:
                kwargs = {**kwargs, "language": self.model.detect_language(audio)[0]}
            else:
                kwargs = {**kwargs, "language": "en"}

        def decode(index: int) -> tuple[list[dict[str, Any]], str]:
            # A pipeline per group: it keeps the last word's end between batches.
            pipeline = BatchedInferencePipeline(model=self.model)
            segments, info = pipeline.transcribe(
                audio,
                batch_size=self.options["batch_size"],
                clip_timestamps=groups[index],
                **kwargs,
            )
            # Progress is told as the first group advances; the others finish about then.
            report = send if index == 0 else _no_progress
            return self._collect(segments, job, report), info.language

        with ThreadPoolExecutor(len(groups), thread_name_prefix="batched") as pool:
            decoded = list(pool.map(decode, range(len(groups))))
        collected = [segment for group_segments, _ in decoded for segment in group_segments]
        if collected:
            send("progress", job["job_id"], float(collected[-1]["end"]))
        return collected, decoded[0][1]

    @staticmethod
    def _collect(segments: Any, job: dict[str, Any], send: Any) -> list[dict[str, Any]]:
        collected = []
        for segment in segments:
            collected.append(_segment_dict(segment))
            send("progress", job["job_id"], float(segment.end))
        return collected


def _no_progress(*message: Any) -> None:
    pass


def _segment_dict(segment: Any) -> dict[str, Any]:
    from dropscribe.outbox.transcript import make_segment, make_word

    words = [
        make_word(word.word, word.start, word.end, word.probability)
        for word in (segment.words or [])
    ]
    return make_segment(segment.text, segment.start, segment.end, words)


def _load_error_sentence(model: str, exc: Exception) -> str:
    name = type(exc).__name__
    if "LocalEntryNotFound" in name or "connect" in str(exc).lower() or "Hub" in name:
        return (
            f"The model '{model}' is not on this machine and could not be downloaded "
            '(no network?); set backends.local.model to "tiny.en" (bundled) or to a '
            "directory holding a CTranslate2 Whisper model."
        )
    return (
        f"The model '{model}' could not be loaded ({name}: {str(exc)[:200]}); "
        "check backends.local.model."
    )
