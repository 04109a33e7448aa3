"""Real HTTP servers on 127.0.0.1 that speak each remote protocol, failures included.

Each server keeps its jobs in memory, decodes what was uploaded (so a test
can check the upload arrived whole), answers "pending" for a few polls, then
gives a Whisper-like result whose text names the SHA-256 of the audio it got.
Faults are scripted per route: ``server.faults["submit"].append(Fault(...))``.

Each server has the real service's limit on request bodies (``max_body_bytes``:
OctoAI and RunPod 10 MiB, OpenAI 25 MiB) and answers 413 to a larger one, after
reading it through as the services' front ends do. The words of a result are
placed in the middle of the audio that arrived (its duration is decoded), so
a stitched transcript shows where each chunk lay.

With ``follow_speech`` a server answers as Whisper does instead: a word every
:data:`WORD_SECONDS` over each loud stretch of the audio it got (and none over
silence), and ``skips`` decides which of them it leaves out, as a Whisper that
ends a window early and moves on leaves speech without words (issue 25).
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import hashlib
import io
import json
import socket
import sys
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import av
import numpy as np

MiB = 1024 * 1024


class QuietServer(ThreadingHTTPServer):
    """A server that does not print a traceback when a client hangs up mid-answer: the
    client under test gives up on purpose (a limit, a timeout, a stop), which is no error
    of the server's and only buried the test output in BrokenPipeError tracebacks."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class Fault:
    """One scripted misbehaviour: a status with a body, a dropped connection, bad JSON;
    ``trickle``: the body sent a byte at a time, this many seconds apart (with
    ``trickle_head``, the status line and headers too)."""

    status: int = 500
    body: bytes = b'{"error": "internal error"}'
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    trickle: float = 0.0
    trickle_head: bool = False


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0
    trickle_head: bool = False
    #: The body sent this many times over (an answer far larger than memory should hold).
    repeat: int = 1

    @classmethod
    def json(cls, status: int, data: Any) -> Reply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


@dataclass
class RemoteJob:
    id: str
    audio_sha256: str
    audio_bytes: int
    fields: dict[str, Any]
    polls_left: int
    created: float
    status: str = "pending"
    audio_seconds: float | None = None
    #: The words a speech-following server answers with: (start, end, text) on the
    #: upload's clock; None: the three words naming the upload.
    spoken: list[tuple[float, float, str]] | None = None


def audio_seconds(audio: bytes) -> float | None:
    """Return the duration of an uploaded file, None when it is not audio PyAV reads."""
    try:
        with av.open(io.BytesIO(audio), "r") as container:
            stream = container.streams.audio[0]
            samples = 0
            for frame in container.decode(stream):
                samples += frame.samples
            return samples / stream.rate if stream.rate else None
    except (av.error.FFmpegError, IndexError, ValueError):
        return None


#: A speech-following server's words: one this long, every this long, over loud audio.
WORD_SECONDS = 0.3
#: Its loudness rule: 30 ms frames 12 dB over the upload's own floor (and over -50 dBFS).
FRAME_SECONDS = 0.03


def loud_stretches(audio: bytes) -> list[tuple[float, float]]:
    """The stretches of an upload louder than its quiet floor, in seconds (16 kHz mono)."""
    pieces: list[Any] = []
    with av.open(io.BytesIO(audio), "r") as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in container.decode(container.streams.audio[0]):
            pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    size = int(FRAME_SECONDS * 16000)
    frames = len(samples) // size
    if frames == 0:
        return []
    power = np.mean(samples[: frames * size].reshape(frames, size) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = level > max(-50.0, float(np.percentile(level, 10)) + 12.0)
    stretches: list[tuple[float, float]] = []
    for index in np.flatnonzero(loud):
        at = index * FRAME_SECONDS
        if stretches and at - stretches[-1][1] < 0.25:  # the gap between two words
            stretches[-1] = (stretches[-1][0], at + FRAME_SECONDS)
        else:
            stretches.append((at, at + FRAME_SECONDS))
    return stretches


def words_over(stretches: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """A word every WORD_SECONDS over each stretch, named by its start (" w12.3")."""
    words = []
    for start, end in stretches:
        at = start
        while at < end:
            words.append((round(at, 3), round(min(at + WORD_SECONDS, end), 3), f" w{at:.1f}"))
            at += WORD_SECONDS
    return words


def spoken_segments(spoken: list[tuple[float, float, str]], scores: dict[str, float]) -> list[Any]:
    """Whisper-style segments of ``spoken``, a new one after each pause of 0.5 s."""
    segments: list[Any] = []
    for start, end, text in spoken:
        word = {"word": text, "start": start, "end": end, "probability": 0.9}
        if segments and start - segments[-1]["end"] < 0.5:
            segments[-1]["words"].append(word)
            segments[-1].update(end=end, text=segments[-1]["text"] + text)
        else:
            segments.append({"id": len(segments), "start": start, "end": end, "text": text,
                             "words": [word], **scores})  # fmt: skip
    return segments


def text_of(output: dict[str, Any]) -> str:
    return "".join(segment["text"] for segment in output["segments"])


def whisper_output(job: RemoteJob, scores: dict[str, float] | None = None) -> dict[str, Any]:
    """A faster-whisper style answer whose words say which audio arrived, 1.5 s of them
    in the middle of the audio (or, from a speech-following server, the words it heard);
    ``scores``: the decoder's, on its segment (Whisper's verbose_json segments carry
    avg_logprob, compression_ratio and no_speech_prob)."""
    if job.spoken is not None:
        segments = spoken_segments(job.spoken, scores or {})
        return {"segments": segments, "language": "en", "duration": job.audio_seconds}
    at = max(0.0, (job.audio_seconds or 1.5) / 2 - 0.75)
    words = [
        {"word": " Audio", "start": at, "end": at + 0.4, "probability": 0.91},
        {
            "word": f" {job.audio_sha256[:8]}",
            "start": at + 0.4,
            "end": at + 1.0,
            "probability": 0.8,
        },
        {"word": " received.", "start": at + 1.0, "end": at + 1.5, "probability": 0.95},
    ]
    return {
        "segments": [
            {
                "id": 0,
                "start": at,
                "end": at + 1.5,
                "text": f" Audio {job.audio_sha256[:8]} received.",
                "words": words,
                **(scores or {}),
            }
        ],
        "language": "en",
        "duration": job.audio_seconds or 1.5,
    }


#: A confident decoder's scores for one segment.
CONFIDENT = {"avg_logprob": -0.31, "compression_ratio": 1.21, "no_speech_prob": 0.01}
#: An unsure decoder that looped (below Whisper's -1 and above its 2.4).
UNSURE = {"avg_logprob": -1.45, "compression_ratio": 2.9, "no_speech_prob": 0.02}


class FakeServer:
    """Base: routing, faults, and a thread that serves until ``stop``."""

    #: The decoder's scores on each segment (the servers whose sources give them).
    scores: dict[str, float] = CONFIDENT

    pending_polls = 2
    #: Answer with a word over each bit of loud audio, as Whisper does (module docstring).
    follow_speech = False
    #: Which of those words the server leaves out: called with the upload and a word's
    #: start and end (the upload's clock); True drops the word. None: none is dropped.
    skips: Callable[[RemoteJob, float, float], bool] | None = None
    #: The largest request body the service takes; None: no limit.
    max_body_bytes: int | None = None
    too_large = b'{"error": "Request body too large"}'

    def __init__(self, port: int = 0) -> None:
        self.jobs: dict[str, RemoteJob] = {}
        self.submissions: list[RemoteJob] = []
        #: Scripted per route, one per request in order; None lets that request through.
        self.faults: dict[str, deque[Fault | None]] = defaultdict(deque)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.token: str | None = None
        self.lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self.refused_bodies = 0

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with outer.lock:
                    outer._connections.add(self.connection)

            def finish(self) -> None:
                with outer.lock:
                    outer._connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                outer._dispatch(self, "GET")

            def do_POST(self) -> None:
                outer._dispatch(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = QuietServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        server.allow_reuse_address = True
        self._port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down: the port refuses connections until ``start`` is called again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Kept-alive connections would go on being served: a server that is down answers nothing.
        with self.lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- plumbing --------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = self._read_body(handler, self.max_body_bytes)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.requests.append((method, handler.path, headers))
        if body is None:
            with self.lock:
                self.refused_bodies += 1
            reply = Reply(413, self.too_large)
        elif self.token and headers.get("authorization") != f"Bearer {self.token}":
            reply = Reply.json(401, {"error": {"message": "Invalid API key"}})
        else:
            route = self.route(method, handler.path)
            fault = self.faults[route].popleft() if self.faults[route] else None
            if fault is not None:
                time.sleep(fault.delay)
                if fault.drop:
                    handler.close_connection = True
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    return
                reply = Reply(
                    fault.status, fault.body, fault.headers, fault.trickle, fault.trickle_head
                )
            else:
                reply = self.handle(method, handler.path, headers, body)
        self._send(handler, reply)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.trickle_head:
            head = (
                f"HTTP/1.1 {reply.status} OK\r\nX-Padding: {'.' * 160}\r\n"
                f"Content-Length: {len(reply.body)}\r\n\r\n"
            )
            handler.close_connection = True
            return FakeServer._trickle(handler, head.encode() + reply.body, reply.trickle)
        handler.send_response(reply.status)
        for key, value in {"Content-Type": "application/json", **reply.headers}.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(reply.body) * reply.repeat))
        handler.end_headers()
        if not reply.trickle:
            try:
                for _ in range(reply.repeat):  # until the client stops reading
                    handler.wfile.write(reply.body)
            except OSError:
                handler.close_connection = True
            return
        handler.wfile.flush()
        FakeServer._trickle(handler, reply.body, reply.trickle)

    @staticmethod
    def _trickle(handler: BaseHTTPRequestHandler, data: bytes, pause: float) -> None:
        for byte in data:  # until the client gives up on it
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(pause)

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler, limit: int | None) -> bytes | None:
        """Return the body, or None (after reading it through) when it is over ``limit``."""
        parts: list[bytes] = []
        total = 0

        def take(piece: bytes) -> None:
            nonlocal total
            total += len(piece)
            if limit is None or total <= limit:
                parts.append(piece)
            else:
                parts.clear()  # over the limit: read on, keep nothing

        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(handler.rfile.readline().strip(), 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                take(handler.rfile.read(size))
                handler.rfile.readline()
        else:
            left = int(handler.headers.get("Content-Length") or 0)
            while left > 0:
                piece = handler.rfile.read(min(left, 1 << 20))
                if not piece:
                    break
                left -= len(piece)
                take(piece)
        if limit is not None and total > limit:
            return None
        return b"".join(parts)

    def new_job(self, audio: bytes, fields: dict[str, Any]) -> RemoteJob:
        job = RemoteJob(
            uuid.uuid4().hex[:12],
            hashlib.sha256(audio).hexdigest(),
            len(audio),
            fields,
            self.pending_polls,
            time.time(),
            audio_seconds=audio_seconds(audio),
        )
        with self.lock:
            self.jobs[job.id] = job
            self.submissions.append(job)
        if self.follow_speech:
            heard = words_over(loud_stretches(audio))
            skips = self.skips or (lambda _job, _start, _end: False)
            job.spoken = [word for word in heard if not skips(job, word[0], word[1])]
        return job

    def advance(self, job: RemoteJob) -> bool:
        """Count one poll; return True when the job is finished."""
        if job.polls_left > 0:
            job.polls_left -= 1
            return False
        return True

    # --- what each protocol defines ----------------------------------------------------

    def route(self, method: str, path: str) -> str:
        raise NotImplementedError

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError


class OctoAIServer(FakeServer):
    """POST /predict (X-OctoAI-Async) -> 201 {response_id, poll_url}; GET poll; GET result.

    Written from OctoAI's API reference (octo.ai/docs/api-reference/octoai-api/inference:
    the POST is answered 201 with a ``poll_url`` on its asynchronous service's own host,
    ``async.octoai.run``; the poll gives ``status`` and, completed, a ``response_url``) and
    its Whisper guide (the result: ``prediction_time_ms``, ``transcription`` and
    ``response`` holding the segments and the language; no duration). ``poll_host``
    stands in for that other host: a name for 127.0.0.1 other than the endpoint's.
    """

    max_body_bytes = 10 * MiB
    poll_host: str | None = None

    def route(self, method: str, path: str) -> str:
        if path == "/healthcheck":
            return "health"
        if method == "POST":
            return "submit"
        return "result" if "/responses/" in path else "poll"

    @property
    def async_url(self) -> str:
        return self.url.replace("127.0.0.1", self.poll_host) if self.poll_host else self.url

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path == "/healthcheck":
            return Reply.json(200, {"status": "ok"})
        if method == "POST" and path == "/predict":
            return self.submit(headers, body)
        job_id = path.rsplit("/", 1)[-1]
        job = self.jobs.get(job_id)
        if job is None:
            return Reply.json(404, {"error": f"unknown response id {job_id}"})
        if "/responses/" in path:
            output = whisper_output(job)
            for segment in output["segments"]:  # WhisperX words: "score"
                for word in segment["words"]:
                    word["score"] = word.pop("probability")
            language = job.fields.get("language") or "en"
            return Reply.json(
                200,
                {
                    "transcription": text_of(output),
                    "prediction_time_ms": 321.0,
                    "response": {"segments": output["segments"], "language": language},
                },
            )
        if job.status == "failed":
            return Reply.json(200, {"status": "failed", "error": "CUDA out of memory"})
        if not self.advance(job):
            return Reply.json(200, {"status": "running" if job.polls_left == 0 else "pending"})
        return Reply.json(
            200, {"status": "completed", "response_url": f"{self.async_url}/v1/responses/{job.id}"}
        )

    def submit(self, headers: dict[str, str], body: bytes) -> Reply:
        if headers.get("x-octoai-async") != "1":
            return Reply.json(400, {"error": "only asynchronous requests are served"})
        try:
            data = json.loads(body)
            audio = base64.b64decode(data.pop("audio"), validate=True)
        except (ValueError, KeyError):
            return Reply.json(400, {"error": "body must be JSON with base64 audio"})
        if not audio:
            return Reply.json(422, {"error": "audio is empty"})
        created = self.new_job(audio, data)
        poll_url = f"{self.async_url}/v1/requests/{created.id}"
        return Reply.json(201, {"response_id": created.id, "poll_url": poll_url})


#: The faster-whisper worker's input schema (src/rp_schema.py) and models (src/predict.py).
RUNPOD_INPUTS = frozenset(
    {
        "audio",
        "audio_base64",
        "model",
        "transcription",
        "translate",
        "translation",
        "language",
        "temperature",
        "best_of",
        "beam_size",
        "patience",
        "length_penalty",
        "suppress_tokens",
        "initial_prompt",
        "condition_on_previous_text",
        "temperature_increment_on_fallback",
        "compression_ratio_threshold",
        "logprob_threshold",
        "no_speech_threshold",
        "enable_vad",
        "word_timestamps",
    }
)
RUNPOD_MODELS = ("tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "turbo")


def srt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d},{millis % 1000:03d}"


class RunPodServer(FakeServer):
    """POST /v2/{endpoint}/run -> {id, status}; GET /v2/{endpoint}/status/{id}.

    Written from runpod-workers/worker-faster_whisper (src/rp_handler.py, src/predict.py,
    src/rp_schema.py) run by the runpod SDK 1.12 (serverless/modules/rp_job.py):
    ``output`` holds segments in the spoken language with their decoder scores and no
    words, ``detected_language``, ``transcription``, ``translation`` (null, or the
    translating pass formatted as ``input.translation`` asks: plain text or SRT) and,
    with word_timestamps, ``word_timestamps`` without probabilities. A failed job's
    ``error`` is the validator's list of sentences, or the JSON string the SDK makes of
    a raised exception, traceback included. ``has_health`` False: a compatible server
    without /health (the SDK's own test API has none). Like the worker's validator
    (worker-faster_whisper's src/rp_schema.py), it refuses an input it does not know.
    """

    endpoint = "whisper123"
    max_body_bytes = 10 * MiB
    has_health = True
    known_inputs = frozenset(
        {
            "audio", "audio_base64", "model", "transcription", "translate", "translation",
            "language", "temperature", "best_of", "beam_size", "patience", "length_penalty",
            "suppress_tokens", "initial_prompt", "condition_on_previous_text",
            "temperature_increment_on_fallback", "compression_ratio_threshold",
            "logprob_threshold", "no_speech_threshold", "enable_vad", "word_timestamps",
        }
    )  # fmt: skip

    def route(self, method: str, path: str) -> str:
        if path.endswith("/health"):
            return "health"
        return "submit" if method == "POST" else "poll"

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        prefix = f"/v2/{self.endpoint}"
        if path == f"{prefix}/health" and self.has_health:
            return Reply.json(200, {"jobs": {"inQueue": 0}, "workers": {"idle": 1}})
        if method == "POST" and path == f"{prefix}/run":
            try:
                inputs = json.loads(body)["input"]
                audio = base64.b64decode(inputs.pop("audio_base64"), validate=True)
            except (ValueError, KeyError, TypeError):
                return Reply.json(400, {"error": "input.audio_base64 is required"})
            if unknown := sorted(set(inputs) - self.known_inputs):
                return Reply.json(400, {"error": f"Unexpected input. {unknown[0]} is not valid"})
            return Reply.json(200, {"id": self.new_job(audio, inputs).id, "status": "IN_QUEUE"})
        if method == "GET" and path.startswith(f"{prefix}/status/"):
            job = self.jobs.get(path.rsplit("/", 1)[-1])
            if job is None:
                return Reply.json(404, {"error": "request does not exist"})
            if job.status == "failed":
                return Reply.json(
                    200, {"id": job.id, "status": "FAILED", "error": "Failed to decode audio"}
                )
            if not self.advance(job):
                return Reply.json(200, {"id": job.id, "status": "IN_PROGRESS"})
            return self.finished(job)
        return Reply.json(404, {"error": "not found"})

    def finished(self, job: RemoteJob) -> Reply:
        unexpected = sorted(set(job.fields) - RUNPOD_INPUTS)
        if unexpected:
            errors = [f"Unexpected input. {key} is not a valid input option." for key in unexpected]
            return Reply.json(200, {"id": job.id, "status": "FAILED", "error": errors})
        model = job.fields.get("model", "base")
        if model not in RUNPOD_MODELS:
            message = f"Invalid model name: {model}. Available models are: {set(RUNPOD_MODELS)}"
            raised = {
                "error_type": "<class 'ValueError'>",
                "error_message": message,
                "error_traceback": "Traceback (most recent call last):\n  File "
                '"/src/predict.py", line 69, in predict\n    raise ValueError(\n'
                f"ValueError: {message}\n",
                "hostname": "worker-1",
                "worker_id": "abc",
                "runpod_version": "1.12.0",
            }
            return Reply.json(200, {"id": job.id, "status": "FAILED", "error": json.dumps(raised)})
        return Reply.json(
            200,
            {"id": job.id, "status": "COMPLETED", "executionTime": 812, "output": self.output(job)},
        )

    def output(self, job: RemoteJob) -> dict[str, Any]:
        segments = whisper_output(job, self.scores)["segments"]
        words = [w for s in segments for w in s.pop("words")]
        for segment in segments:
            segment.update(seek=0, tokens=[50364, 440], temperature=0.0)
        translation = None
        if job.fields.get("translate") and segments:
            first = segments[0]
            text = f"Translated {job.audio_sha256[:8]}."
            if job.fields.get("translation") == "srt":
                times = f"{srt_time(first['start'])} --> {srt_time(first['end'])}"
                translation = f"1\n{times}\n{text}\n\n"
            else:
                translation = text
        output: dict[str, Any] = {
            "segments": segments,
            "detected_language": job.fields.get("language") or "en",
            "transcription": "".join(s["text"] for s in segments).strip(),
            "translation": translation,
            "device": "cuda",
            "model": job.fields.get("model", "base"),
        }
        if job.fields.get("word_timestamps"):
            output["word_timestamps"] = [{k: w[k] for k in ("word", "start", "end")} for w in words]
        return output


class ReplicateServer(FakeServer):
    """POST /v1/predictions -> 201 {id, status, urls}; GET /v1/predictions/{id}.

    The output as the openai/whisper Cog model's predict.py returns it: Whisper's
    segments (scores included) in the spoken language, ``detected_language`` as a
    name, ``transcription``, and ``translation``: the translating pass's text only.
    Like Replicate, it refuses an input the model does not declare: these are the
    inputs of openai/whisper (replicate/cog-whisper's predict.py).
    """

    known_inputs = frozenset(
        {
            "audio", "model", "transcription", "translate", "language", "temperature",
            "patience", "suppress_tokens", "initial_prompt", "condition_on_previous_text",
            "temperature_increment_on_fallback", "compression_ratio_threshold",
            "logprob_threshold", "no_speech_threshold",
        }
    )  # fmt: skip

    def route(self, method: str, path: str) -> str:
        return "submit" if method == "POST" else "poll"

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/v1/predictions":
            try:
                data = json.loads(body)
                uri = data["input"].pop("audio")
                header, _, encoded = uri.partition(",")
                assert header.startswith("data:") and header.endswith(";base64")
                audio = base64.b64decode(encoded, validate=True)
            except (ValueError, KeyError, AssertionError):
                return Reply.json(422, {"detail": "input.audio: invalid data URI"})
            if not data.get("version"):
                return Reply.json(422, {"detail": "version is required"})
            if unknown := sorted(set(data["input"]) - self.known_inputs):
                detail = f"- input: Additional property {unknown[0]} is not allowed"
                return Reply.json(422, {"detail": detail})
            created = self.new_job(audio, {**data["input"], "version": data["version"]})
            get = f"{self.url}/v1/predictions/{created.id}"
            return Reply.json(
                201,
                {
                    "id": created.id,
                    "status": "starting",
                    "urls": {"get": get, "cancel": f"{get}/cancel"},
                },
            )
        job = self.jobs.get(path.rsplit("/", 1)[-1])
        if job is None:
            return Reply.json(404, {"detail": "Not found."})
        if job.status == "failed":
            return Reply.json(
                200, {"id": job.id, "status": "failed", "error": "audio could not be read"}
            )
        if not self.advance(job):
            return Reply.json(200, {"id": job.id, "status": "processing"})
        output = whisper_output(job, self.scores)
        return Reply.json(
            200,
            {
                "id": job.id,
                "status": "succeeded",
                "metrics": {"predict_time": 0.42},
                "output": {
                    "segments": output["segments"],
                    "transcription": text_of(output),
                    "detected_language": "english",
                    "translation": f" Translated {job.audio_sha256[:8]}."
                    if job.fields.get("translate")
                    else None,
                },
            },
        )


class OpenAIServer(FakeServer):
    """POST /v1/audio/transcriptions and /translations, multipart, verbose_json.

    ``style`` picks how it answers, as real servers differ: "openai" (words at
    top level, language as a name), "segments" (words inside segments, a code),
    "text" (no timestamps at all).
    """

    style = "openai"
    max_body_bytes = 25 * MiB
    too_large = (
        b'{"error": {"message": "Maximum content size limit (26214400) exceeded.", '
        b'"type": "invalid_request_error"}}'
    )

    def route(self, method: str, path: str) -> str:
        return "models" if path.endswith("/models") else "submit"

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path == "/v1/models":
            return Reply.json(200, {"data": [{"id": "whisper-1"}]})
        if method != "POST" or path not in ("/v1/audio/transcriptions", "/v1/audio/translations"):
            return Reply(404, b"404 page not found", {"Content-Type": "text/plain"})
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + body
        )
        fields: dict[str, Any] = {}
        audio = b""
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            if name == "file":
                audio = payload
            else:
                fields.setdefault(name, []).append(payload.decode())
        if not audio:
            return Reply.json(
                400, {"error": {"message": "file is required", "type": "invalid_request_error"}}
            )
        job = self.new_job(audio, {**fields, "path": path})
        output = whisper_output(job, self.scores)
        text = text_of(output)
        if self.style == "text":
            return Reply.json(200, {"text": text})
        if self.style == "segments":
            return Reply.json(
                200,
                {"text": text, "language": "en", "duration": 1.5, "segments": output["segments"]},
            )
        words = [
            {"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
            for segment in output["segments"]
            for w in segment.pop("words")
        ]
        return Reply.json(
            200,
            {
                "task": "transcribe",
                "language": "english",
                "duration": 1.5,
                "text": text,
                "segments": output["segments"],
                "words": words,
            },
        )
