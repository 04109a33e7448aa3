"""RunPod serverless with the public faster-whisper worker
(``runpod-workers/worker-faster_whisper``: ``src/rp_handler.py``, ``src/predict.py``).

POST {base}/{endpoint_id}/run {"input": {"audio_base64", "model", "language",
    "translate", "translation": "srt", "word_timestamps", "enable_vad"}} -> {"id", "status"}
GET  {base}/{endpoint_id}/status/{id}
    -> {"status": IN_QUEUE | IN_PROGRESS | COMPLETED | FAILED | CANCELLED | TIMED_OUT,
        "output": {"segments" (with avg_logprob, compression_ratio, no_speech_prob; no
                   words), "detected_language", "transcription", "translation",
                   "word_timestamps"}, "error" (see worker_errors.py)}

The worker always decodes in the spoken language; asked to translate, it runs a
second, translating pass and returns it only as ``translation``, here as SRT
cues, which become the transcript's segments (without words: it times none).
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from dropscribe.backends.base import Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.remote.futures import AsyncHTTPBackend
from dropscribe.backends.remote.http import base64_json_body
from dropscribe.backends.remote.normalise import finite
from dropscribe.backends.remote.worker_errors import RUNPOD_MODELS, read_worker_error
from dropscribe.config import RunPodSettings
from dropscribe.errors import Permanent, Retryable

log = structlog.get_logger("dropscribe.remote.runpod")


class RunPodBackend(AsyncHTTPBackend):
    name = "runpod"
    translation_beside = True

    @property
    def pod(self) -> RunPodSettings:
        assert isinstance(self.section, RunPodSettings)
        return self.section

    @property
    def model_name(self) -> str | None:
        return self.pod.model

    def base_url(self) -> str:
        return f"{self.pod.base_url.rstrip('/')}/{self.pod.endpoint_id}"

    def default_health_url(self) -> str | None:
        return f"{self.base_url()}/health"

    def submission(self, request: Request) -> tuple[str, Any, dict[str, str]]:
        fields: dict[str, Any] = {
            "model": self.pod.model,
            "language": self.language_for(request),
            "translate": request.task == "translate",
            "word_timestamps": True,
            "enable_vad": self.pod.enable_vad,
        }
        if request.task == "translate":
            fields["translation"] = "srt"  # the translation's own times, as cues
        if (prompt := request.words.as_prompt()) is not None:
            # The worker's only field for words (its schema refuses unknown ones).
            fields["initial_prompt"] = prompt
        after = ('", ' + json.dumps(fields)[1:] + "}").encode()
        body, length = base64_json_body(
            request.path, b'{"input": {"audio_base64": "', after, on_upload=request.on_upload
        )
        headers = {"Content-Type": "application/json", "Content-Length": str(length)}
        return f"{self.base_url()}/run", body, headers

    def future_from(self, data: Any, submitted_at: float) -> Future:
        if not isinstance(data, dict) or not data.get("id"):
            raise self.malformed(data, "no job id")
        job_id = str(data["id"])
        return Future(
            backend=self.name,
            remote_id=job_id,
            submitted_at=submitted_at,
            poll_url=f"{self.base_url()}/status/{job_id}",
            expires_at=submitted_at + self.pod.retention_seconds,
        )

    def outcome(self, future: Future, data: Any) -> Outcome:
        status = str(data.get("status", "")).upper() if isinstance(data, dict) else ""
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return Pending()
        if status == "COMPLETED":
            output = data.get("output")
            elapsed = finite(data.get("executionTime")) or 0.0
            return Done(self.read_result(future, output, elapsed))
        if status == "FAILED":
            return self.worker_failure(future, data)
        if status == "TIMED_OUT":
            return self.remote_failure(data, status)
        if status == "CANCELLED":
            return Gone("the runpod job was cancelled")
        raise self.malformed(data, f"unknown status {status!r}")

    def worker_failure(self, future: Future, data: Any) -> Failed | Gone:
        """One sentence for the job; the worker's traceback goes to the log only."""
        said = read_worker_error(data.get("error") if isinstance(data, dict) else None)
        if said.message == "Job ID not found":
            # The runpod SDK's local test API forgets a job once it has answered for it.
            return Gone("the runpod server no longer knows this job")
        log.warning(
            "worker_failed",
            backend=self.name,
            remote_id=future.remote_id,
            error=said.message,
            detail=said.detail,
        )
        message = f"The runpod worker refused the job: {said.message}."
        if said.message.startswith("Invalid model name"):
            message += f" Set backends.runpod.model to one of {', '.join(RUNPOD_MODELS)}."
        if said.final:
            return Failed(Permanent(message, detail=said.message))
        return Failed(Retryable(message, detail=said.message))
