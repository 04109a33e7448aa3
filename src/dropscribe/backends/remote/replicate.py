"""Replicate predictions with a Whisper model version from the configuration.

POST {base}/predictions {"version", "input": {"audio": data URI, ...}}
    -> 201 {"id", "status", "urls": {"get", "cancel"}}
GET urls.get -> {"status": starting | processing | succeeded | failed | canceled,
                 "output": {"segments", "transcription", "detected_language"}}
"""

from __future__ import annotations

import json
from typing import Any

from dropscribe.backends.base import Done, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.remote.futures import AsyncHTTPBackend
from dropscribe.backends.remote.http import base64_json_body
from dropscribe.backends.remote.normalise import finite
from dropscribe.config import ReplicateSettings
from dropscribe.languages import CODES, NAME_TO_CODE

CODE_TO_NAME = {code: name for name, code in NAME_TO_CODE.items() if code in CODES}


class ReplicateBackend(AsyncHTTPBackend):
    name = "replicate"
    #: openai/whisper's predict.py returns the translation as text beside the segments.
    translation_beside = True

    @property
    def rep(self) -> ReplicateSettings:
        assert isinstance(self.section, ReplicateSettings)
        return self.section

    @property
    def model_name(self) -> str | None:
        return self.rep.version or None

    def base_url(self) -> str:
        return self.rep.base_url.rstrip("/")

    def check(self) -> list[str]:
        if not self.rep.version:
            return ["backends.replicate.version is empty; set the Whisper model version to run"]
        return super().check()

    def submission(self, request: Request) -> tuple[str, Any, dict[str, str]]:
        inputs: dict[str, Any] = {
            "translate": request.task == "translate",
            "transcription": "plain text",
        }
        if (language := self.language_for(request)) is not None:
            # The Whisper models on Replicate take the language by name.
            inputs["language"] = CODE_TO_NAME.get(language, language)
        if (prompt := request.words.as_prompt()) is not None:
            inputs["initial_prompt"] = prompt  # openai/whisper's input for the first window
        after = ('", ' + json.dumps(inputs)[1:] + "}").encode()
        before = b'{"version": ' + json.dumps(self.rep.version).encode() + b', "input": {"audio": "'
        prefix = f"data:{self.media_type(request.path)};base64,".encode()
        body, length = base64_json_body(
            request.path, before, after, prefix=prefix, on_upload=request.on_upload
        )
        headers = {"Content-Type": "application/json", "Content-Length": str(length)}
        return f"{self.base_url()}/predictions", body, headers

    def future_from(self, data: Any, submitted_at: float) -> Future:
        urls = data.get("urls") if isinstance(data, dict) else None
        if not isinstance(urls, dict) or not urls.get("get") or not data.get("id"):
            raise self.malformed(data, "no id and urls.get")
        return Future(
            backend=self.name,
            remote_id=str(data["id"]),
            submitted_at=submitted_at,
            poll_url=self.http.check_url(str(urls["get"])),
            expires_at=submitted_at + self.rep.retention_seconds,
            data={"cancel": urls.get("cancel")},
        )

    def outcome(self, future: Future, data: Any) -> Outcome:
        status = str(data.get("status", "")).lower() if isinstance(data, dict) else ""
        if status in ("starting", "processing"):
            return Pending()
        if status == "succeeded":
            metrics = data.get("metrics")
            seconds = finite(metrics.get("predict_time")) if isinstance(metrics, dict) else None
            elapsed = (seconds or 0.0) * 1000
            return Done(self.read_result(future, data.get("output"), elapsed))
        if status == "failed":
            return self.remote_failure(data, status)
        if status in ("canceled", "cancelled"):
            return Gone("the replicate prediction was canceled")
        raise self.malformed(data, f"unknown status {status!r}")
