"""RunPod serverless with the public faster-whisper worker.

POST {base}/{endpoint_id}/run {"input": {"audio_base64", "model", "language",
    "translate", "word_timestamps", "enable_vad"}} -> {"id", "status"}
GET  {base}/{endpoint_id}/status/{id}
    -> {"status": IN_QUEUE | IN_PROGRESS | COMPLETED | FAILED | CANCELLED | TIMED_OUT,
        "output": {"segments", "detected_language", "transcription", "word_timestamps"}}
"""

from __future__ import annotations

import json
from typing import Any

from dropscribe.backends.base import Done, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.remote.futures import AsyncHTTPBackend
from dropscribe.backends.remote.http import base64_json_body
from dropscribe.config import RunPodSettings


class RunPodBackend(AsyncHTTPBackend):
    name = "runpod"

    @property
    def pod(self) -> RunPodSettings:
        assert isinstance(self.section, RunPodSettings)
        return self.section

    @property
    def model_name(self) -> str | None:
        return self.pod.model

    def base_url(self) -> str:
        return f"{self.pod.base_url.rstrip('/')}/{self.pod.endpoint_id}"

    def health_url(self) -> str | None:
        return f"{self.base_url()}/health"

    def submission(self, request: Request) -> tuple[str, Any, dict[str, str]]:
        fields = {
            "model": self.pod.model,
            "language": self.language_for(request),
            "translate": request.task == "translate",
            "word_timestamps": True,
            "enable_vad": self.pod.enable_vad,
        }
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
            elapsed = float(data.get("executionTime") or 0)
            return Done(self.read_result(output, elapsed))
        if status in ("FAILED", "TIMED_OUT"):
            return self.remote_failure(data, status)
        if status == "CANCELLED":
            return Gone("the runpod job was cancelled")
        raise self.malformed(data, f"unknown status {status!r}")
