"""The submit-and-poll engine shared by the asynchronous protocols.

A protocol module says only how to build the submission, where to poll, and
how to read a status and a result; this class does the rest: health checks,
error translation, poll backoff, retention, Gone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import structlog

from dropscribe.backends.base import Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.remote.http import FutureGone, HttpClient
from dropscribe.backends.remote.normalise import normalise
from dropscribe.config import SECRET_KEYS, RemoteSettings, Settings
from dropscribe.config.backends import UploadFormat
from dropscribe.errors import BackendError, Permanent, Retryable, ServerDown
from dropscribe.transcript import Transcription

log = structlog.get_logger("dropscribe.remote")

#: A healthy answer is trusted this long before the health URL is asked again.
HEALTH_TTL = 30.0


class AsyncHTTPBackend:
    """Submit, keep the future, poll with backoff, fetch the result."""

    name = "remote"
    holds_work_in_process = False
    #: Compact formats the protocol's servers read, smallest first (``upload_format = "auto"``).
    upload_formats: tuple[UploadFormat, ...] = ("opus", "mp3", "flac")
    #: The audio travels base64-encoded inside JSON (a third larger than the file).
    upload_base64 = True
    #: The provider's own domains: poll and result URLs under them are followed when the
    #: endpoint is under them too (see hosts.py).
    provider_domains: tuple[str, ...] = ()
    #: The worker returns a translation beside segments in the spoken language (RunPod's
    #: and Replicate's Whisper workers), not segments of the translation.
    translation_beside = False

    def __init__(self, settings: Settings) -> None:
        section = settings.backend_settings(self.name)
        assert isinstance(section, RemoteSettings)
        self.section: RemoteSettings = section
        self.concurrency = section.concurrency
        self.max_upload_bytes: int | None = section.max_upload_bytes
        self.fallback: str | None = section.fallback
        secret = getattr(section, SECRET_KEYS[self.name])
        self.http = HttpClient(
            self.name,
            section,
            self.base_url(),
            secret.get_secret_value() if secret else None,
            self.provider_domains,
        )
        self._healthy_until = 0.0
        self._no_health_said = False

    # --- what a protocol module provides ----------------------------------------

    @property
    def model_name(self) -> str | None:
        return None

    def base_url(self) -> str:
        raise NotImplementedError

    def default_health_url(self) -> str | None:
        """The protocol's own health URL; None: it has none."""
        return None

    def health_url(self) -> str | None:
        """``health_url`` from the configuration ("" turns the check off), else the
        protocol's own."""
        configured = self.section.health_url
        if configured is not None:
            return configured or None
        return self.default_health_url()

    def submission(self, request: Request) -> tuple[str, Any, dict[str, str]]:
        """Return the URL, the (streamed) body and the headers of the submission."""
        raise NotImplementedError

    def future_from(self, data: Any, submitted_at: float) -> Future:
        raise NotImplementedError

    def status_url(self, future: Future) -> str:
        assert future.poll_url is not None
        return future.poll_url

    def outcome(self, future: Future, data: Any) -> Outcome:
        raise NotImplementedError

    # --- the contract -------------------------------------------------------------

    def settings_fingerprint(self) -> dict[str, Any]:
        return {"url": self.base_url(), "model": self.model_name}

    def check(self) -> list[str]:
        self._healthy_until = 0.0
        try:
            self.check_health()
        except BackendError as exc:
            return [str(exc)]
        return []

    def check_health(self) -> None:
        """Raise ServerDown while the health URL says the server is not ready."""
        url = self.health_url()
        if url is None or time.monotonic() < self._healthy_until:
            return
        try:
            answer = self.http.request("GET", url, absent_ok=True)
        except Permanent as exc:
            raise ServerDown(f"The {self.name} health check failed: {exc}") from None
        except Retryable as exc:
            # 5xx while the server cold-starts is a wait, not a failure.
            raise ServerDown(
                f"The {self.name} server is not ready yet ({exc})", retry_after=exc.retry_after
            ) from None
        if answer is None and not self._no_health_said:
            # A compatible server without the endpoint (the runpod SDK's own test API):
            # nothing to wait for.
            log.info("no_health_endpoint", backend=self.name, url=url)
            self._no_health_said = True
        self._healthy_until = time.monotonic() + HEALTH_TTL

    def submit(self, request: Request) -> Future:
        self.check_health()
        url, body, headers = self.submission(request)
        submitted_at = time.time()
        try:
            data = self.http.request("POST", url, content=body, headers=headers)
        except ServerDown:
            self._healthy_until = 0.0
            raise
        future = self.future_from(data, submitted_at)
        # What was asked, for reading the result (kept with the future across a restart).
        future.data.update(task=request.task, language=self.language_for(request))
        return future

    def poll(self, future: Future, wait: float) -> Outcome:
        try:
            data = self.http.request("GET", self.status_url(future), gone_on_404=True)
            return self.outcome(future, data)
        except FutureGone as exc:
            return Gone(f"the {self.name} server no longer knows this job ({exc})")
        except Retryable as exc:
            if future.expires_at is not None and time.time() > future.expires_at:
                return Gone(
                    f"the {self.name} retention window has passed and the server "
                    f"cannot confirm the job ({exc})"
                )
            # The job lives on remotely: keep polling; the overall deadline bounds this.
            log.info("poll_failed", backend=self.name, remote_id=future.remote_id, error=str(exc))
            return Pending()
        except Permanent as exc:
            return Failed(exc)

    def poll_delay(self, polls: int) -> float:
        """Fast first, then slower: initial x 1.5^polls, capped."""
        section = self.section
        return float(min(section.poll_max_seconds, section.poll_initial_seconds * 1.5**polls))

    def close(self) -> None:
        self.http.close()

    # --- helpers for protocol modules -------------------------------------------------

    def fetch_result(self, future: Future, url: str) -> Transcription:
        data = self.http.request("GET", url, gone_on_404=True)
        return self.read_result(future, data)

    def read_result(self, future: Future, data: Any, elapsed_ms: float = 0.0) -> Transcription:
        asked = future.data.get("language")
        return normalise(
            data,
            model=self.model_name,
            prediction_time_ms=elapsed_ms,
            language=asked if isinstance(asked, str) else None,
            translated=self.translation_beside and future.data.get("task") == "translate",
        )

    def remote_failure(self, data: Any, status: str) -> Failed:
        error = data.get("error") if isinstance(data, dict) else None
        message = str(error)[:1000] if error else f"status {status}"
        return Failed(
            Retryable(
                f"The {self.name} server could not transcribe the file: {message}", detail=message
            )
        )

    def malformed(self, data: Any, what: str) -> Retryable:
        return Retryable(
            f"The {self.name} server sent a malformed answer ({what}).", detail=str(data)[:500]
        )

    @staticmethod
    def language_for(request: Request) -> str | None:
        return None if request.language == "auto" else request.language

    @staticmethod
    def media_type(path: Path) -> str:
        suffix = path.suffix.lower().lstrip(".")
        return {
            "mp3": "audio/mpeg",
            "m4a": "audio/mp4",
            "aac": "audio/aac",
            "wav": "audio/wav",
            "flac": "audio/flac",
            "ogg": "audio/ogg",
            "opus": "audio/ogg",
            "webm": "audio/webm",
            "aiff": "audio/aiff",
        }.get(suffix, "application/octet-stream")
