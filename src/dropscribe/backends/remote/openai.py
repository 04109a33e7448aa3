"""Any OpenAI-compatible ``/audio/transcriptions`` server (OpenAI, Groq, speaches,
whisper.cpp's server, LocalAI, vLLM, ...).

The request is synchronous: ``submit`` sends it and waits for the answer,
which the future then holds until ``poll`` hands it over. A job interrupted
while its request is out is found in ``submitting`` after a restart and is
sent again; a future from an earlier run is Gone.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Request
from dropscribe.backends.remote.http import HttpClient, ReportingReader
from dropscribe.backends.remote.normalise import normalise
from dropscribe.config import OpenAISettings, Settings
from dropscribe.config.backends import UploadFormat
from dropscribe.errors import BackendError, BadInput, Retryable
from dropscribe.sources import VANISHED, open_source
from dropscribe.transcript import Transcription


class OpenAIBackend:
    name = "openai"
    holds_work_in_process = True  # the request is kept open by this process
    #: OpenAI, Groq and speaches read Ogg Opus; whisper.cpp's server wants "original" or flac.
    upload_formats: tuple[UploadFormat, ...] = ("opus", "mp3", "flac")
    upload_base64 = False

    def __init__(self, settings: Settings) -> None:
        self.section: OpenAISettings = settings.backends.openai
        self.concurrency = self.section.concurrency
        self.max_upload_bytes: int | None = self.section.max_upload_bytes
        self.fallback: str | None = self.section.fallback
        self.model_name: str | None = self.section.model
        key = self.section.api_key
        self.base = self.section.base_url.rstrip("/")
        self.http = HttpClient(
            self.name, self.section, self.base, key.get_secret_value() if key else None
        )
        self.instance = uuid.uuid4().hex
        #: Outcomes of requests already answered, until ``poll`` hands them over.
        self._outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()

    def settings_fingerprint(self) -> dict[str, Any]:
        return {"url": self.base, "model": self.model_name}

    def check(self) -> list[str]:
        """Ask ``health_url`` ("" asks nothing), else the model list: many servers have
        none (404, 405), and reaching them is enough."""
        configured = self.section.health_url
        if configured == "":
            return []
        try:
            self.http.request("GET", configured or f"{self.base}/models", absent_ok=True)
        except BackendError as exc:
            return [str(exc)]
        return []

    def submit(self, request: Request) -> Future:
        if not request.path.exists():
            raise BadInput(VANISHED)
        remote_id = f"{self.instance}:{request.job_id}:{uuid.uuid4().hex[:8]}"
        # The request runs in the caller's thread (the dispatcher gives every job one):
        # a thread of its own per request cost more than the request at high rates.
        outcome = self._send(request)
        with self._lock:
            self._outcomes[remote_id] = outcome
        return Future(
            backend=self.name,
            remote_id=remote_id,
            submitted_at=time.time(),
            data={"instance": self.instance},
        )

    def _send(self, request: Request) -> Outcome:
        """Send the request and return its outcome; every failure becomes a value."""
        started = time.perf_counter()
        try:
            result = self.transcribe(request)
        except (BackendError, BadInput) as exc:
            return Failed(exc)
        except FileNotFoundError:
            return Failed(BadInput(VANISHED))
        except Exception as exc:  # an unexpected reply must not kill the job's thread
            return Failed(Retryable(f"The openai request failed: {exc!r}"))
        if not result.prediction_time_ms:
            result.prediction_time_ms = (time.perf_counter() - started) * 1000
        return Done(result)

    def transcribe(self, request: Request) -> Transcription:
        """Send the file as multipart (streamed by httpx) and normalise the answer."""
        translate = request.task == "translate"
        endpoint = "translations" if translate else "transcriptions"
        data: dict[str, Any] = {
            "model": self.section.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        }
        if request.language != "auto" and not translate:
            data["language"] = request.language
        if (prompt := request.words.as_prompt()) is not None:
            data["prompt"] = prompt
        with open_source(request.path) as stream:  # never through a link
            upload = ReportingReader(stream, request.on_upload)
            files = {"file": (request.path.name, upload, "application/octet-stream")}
            answer = self.http.request(
                "POST", f"{self.base}/audio/{endpoint}", files=files, data=data
            )
        return normalise(answer, model=self.model_name, prediction_time_ms=0.0)

    def poll(self, future: Future, wait: float) -> Outcome:
        if future.data.get("instance") != self.instance:
            return Gone("the request was in flight when dropscribe stopped")
        with self._lock:
            outcome = self._outcomes.pop(future.remote_id, None)
        return outcome or Gone("this request is unknown to this process")

    def poll_delay(self, polls: int) -> float:
        return 0.0

    def close(self) -> None:
        self.http.close()
