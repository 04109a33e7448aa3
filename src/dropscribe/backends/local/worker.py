"""The code that runs inside a local engine worker process.

Untrusted media is decoded only here. The model is loaded once. Three kinds
of thread share the work: a receiver takes jobs off the pipe as soon as they
arrive (so the worker knows how many files wait), a decoder prepares the next
file's audio, and one transcribing thread per parallel decode transcribes the
files before it. A file that starts while no other waits takes every free
decode (its parts run side by side); otherwise files go side by side, one
decode each (threads.decodes_for_file). The messages are those of
protocol.py; the worker is started as ``dropscribe.backends.local.worker:main``
(:class:`dropscribe.workers.spawn.Worker`).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dropscribe.backends.local.protocol import (
    PARENT_MESSAGES,
    EngineOptions,
    Fatal,
    Finished,
    Job,
    JobFailed,
    Progress,
    Ready,
    Started,
    Stop,
    TrackChosen,
    WorkerMessage,
)
from dropscribe.backends.local.threads import decodes_for_file
from dropscribe.workers.channel import Channel
from dropscribe.workers.messages import MessageError

if TYPE_CHECKING:
    from dropscribe.backends.local.engine import Engine

Send = Callable[[WorkerMessage], None]


def main(connection: Channel) -> None:
    """Take the options, load the model, then transcribe every job the parent sends
    until it says stop."""
    try:
        options = connection.receive((EngineOptions,))
    except MessageError:
        options = None
    if options is None:
        return  # the parent is gone, or not one of ours

    def send(message: WorkerMessage) -> None:
        try:
            connection.send(message)
        except OSError:
            os._exit(0)  # the daemon is gone (killed): nobody is left to tell

    # faster-whisper makes a (disabled) tqdm bar per file, and tqdm's default lock is a
    # multiprocessing semaphore that outlives the worker; a thread lock is all it needs here.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    from dropscribe.backends.local.engine import Engine

    try:
        engine = Engine(options)
    except Exception as exc:  # any failure to load is reported as one sentence
        send(Fatal(_load_error_sentence(options.model_load, exc)))
        return
    send(Ready(os.getpid(), engine.multilingual, engine.parallel, engine.threads))
    load = _Load(engine.parallel)
    received: queue.Queue[Job | None] = queue.Queue()
    decoded: queue.Queue[tuple[Job, Any] | None] = queue.Queue(maxsize=1)
    threading.Thread(target=_receive_loop, args=(connection, received, load), daemon=True).start()
    threading.Thread(target=_decode_loop, args=(received, decoded, send, load), daemon=True).start()
    for _ in range(engine.parallel - 1):
        threading.Thread(
            target=_transcribe_loop, args=(engine, decoded, send, load, connection), daemon=True
        ).start()
    _transcribe_loop(engine, decoded, send, load, connection)


class _Load:
    """What the worker holds: files received and not yet started, decodes in use."""

    def __init__(self, parallel: int) -> None:
        self.parallel = parallel
        self.waiting = 0
        self.in_use = 0
        self.lock = threading.Lock()

    def arrived(self) -> None:
        with self.lock:
            self.waiting += 1

    def dropped(self) -> None:
        with self.lock:
            self.waiting -= 1

    def start(self) -> int:
        with self.lock:
            self.waiting -= 1
            decodes = decodes_for_file(self.parallel, self.in_use, self.waiting)
            self.in_use += decodes
            return decodes

    def finish(self, decodes: int) -> None:
        with self.lock:
            self.in_use -= decodes


def _receive_loop(connection: Channel, received: queue.Queue[Job | None], load: _Load) -> None:
    while True:
        try:
            message = connection.receive(PARENT_MESSAGES)
        except MessageError:
            message = None  # the parent is ours: nothing sensible is left to do
        if message is None or isinstance(message, Stop):  # told to stop, or the parent is gone
            received.put(None)
            return
        load.arrived()
        received.put(message)


def _decode_loop(
    received: queue.Queue[Job | None],
    decoded: queue.Queue[tuple[Job, Any] | None],
    send: Send,
    load: _Load,
) -> None:
    from dropscribe.audio.decode import decode_file
    from dropscribe.errors import BadInput

    while True:
        job = received.get()
        if job is None:
            decoded.put(None)
            return
        try:
            audio = decode_file(job.path, job.max_duration, job.audio_track)
        except BadInput as exc:
            send(JobFailed(job.job_id, str(exc), bad_input=True, detail=exc.detail))
            load.dropped()
            continue
        except Exception as exc:  # this thread must live on for the next file
            message = "The recording could not be decoded; it is tried again."
            send(JobFailed(job.job_id, message, bad_input=False, detail=_detail(exc)))
            load.dropped()
            continue
        send(TrackChosen(job.job_id, audio.choice.log_fields()))
        decoded.put((job, audio.samples))


def _transcribe_loop(
    engine: Engine,
    decoded: queue.Queue[tuple[Job, Any] | None],
    send: Send,
    load: _Load,
    connection: Channel,
) -> None:
    from dropscribe.audio import SAMPLE_RATE

    while True:
        item = decoded.get()
        if item is None:
            # Tearing down the model and its thread pools can take seconds; there is
            # nothing left to flush (the pipe is unbuffered), so leave at once.
            os._exit(0)
        job, audio = item
        decodes = load.start()
        send(Started(job.job_id, len(audio) / SAMPLE_RATE))
        try:
            coverage: dict[str, object] = {}
            result, decoding = engine.transcribe(
                job, audio, decodes, _progress_to(send, job), noted=coverage.update
            )
            # Sent inside the try: a result that cannot be written as a message (a
            # number of numpy's) fails the file instead of this thread.
            send(Finished(job.job_id, result, decoding, coverage or None))
        except Exception as exc:
            message = "The engine failed on this file; it is tried again."
            send(JobFailed(job.job_id, message, bad_input=False, detail=_detail(exc)))
        finally:
            load.finish(decodes)


def _detail(exc: BaseException) -> str:
    """What went wrong, for the error sidecar's ``detail`` and the log: not the sentence."""
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _progress_to(send: Send, job: Job) -> Callable[[float], None]:
    def report(seconds: float) -> None:
        send(Progress(job.job_id, seconds))

    return report


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
