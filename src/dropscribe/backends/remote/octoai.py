"""The OctoAI asynchronous inference protocol of the seed documents.

POST endpoint  (X-OctoAI-Async: 1) {"audio": base64, "language", "task"}
    -> 201 {"response_id", "poll_url"}
GET poll_url   -> {"status": pending | running | completed | failed, "response_url"}
GET response_url -> the Whisper result
"""

from __future__ import annotations

import json
from typing import Any

from dropscribe.backends.base import Done, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.remote.futures import AsyncHTTPBackend
from dropscribe.backends.remote.http import base64_json_body
from dropscribe.config import OctoAISettings


class OctoAIBackend(AsyncHTTPBackend):
    name = "octoai"
    #: A POST to <name>.octoai.run is answered with a poll URL on async.octoai.run.
    provider_domains = ("octoai.run", "octoai.cloud")

    @property
    def octo(self) -> OctoAISettings:
        assert isinstance(self.section, OctoAISettings)
        return self.section

    def base_url(self) -> str:
        return self.octo.endpoint

    def submission(self, request: Request) -> tuple[str, Any, dict[str, str]]:
        fields: dict[str, Any] = {"task": request.task}
        if (language := self.language_for(request)) is not None:
            fields["language"] = language
        after = ('", ' + json.dumps(fields)[1:]).encode()
        body, length = base64_json_body(
            request.path, b'{"audio": "', after, on_upload=request.on_upload
        )
        headers = {
            "X-OctoAI-Async": "1",
            "Content-Type": "application/json",
            "Content-Length": str(length),
        }
        return self.octo.endpoint, body, headers

    def future_from(self, data: Any, submitted_at: float) -> Future:
        if not isinstance(data, dict) or not data.get("response_id") or not data.get("poll_url"):
            raise self.malformed(data, "no response_id and poll_url")
        return Future(
            backend=self.name,
            remote_id=str(data["response_id"]),
            submitted_at=submitted_at,
            poll_url=self.http.check_url(str(data["poll_url"])),
            expires_at=submitted_at + self.octo.retention_seconds,
        )

    def outcome(self, future: Future, data: Any) -> Outcome:
        status = str(data.get("status", "")).lower() if isinstance(data, dict) else ""
        if status in ("pending", "running", "queued", "submitted"):
            return Pending()
        if status == "completed":
            url = data.get("response_url") or future.result_url
            if not url:
                raise self.malformed(data, "completed without a response_url")
            return Done(self.fetch_result(future, str(url)))
        if status == "failed":
            return self.remote_failure(data, status)
        if status in ("cancelled", "canceled", "expired"):
            return Gone(f"the octoai future is {status}")
        raise self.malformed(data, f"unknown status {status!r}")
