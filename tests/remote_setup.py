"""Configs that point each remote backend at its fake server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dropscribe.backends import create_backend
from dropscribe.backends.base import Backend
from dropscribe.config import load_settings
from tests.helpers import write_config
from tests.servers import FakeServer, OctoAIServer, OpenAIServer, ReplicateServer, RunPodServer

SERVERS: dict[str, type[FakeServer]] = {
    "octoai": OctoAIServer,
    "runpod": RunPodServer,
    "replicate": ReplicateServer,
    "openai": OpenAIServer,
}
TOKEN = "tok-abc-123-secret"
FAST_POLLS = {"poll_initial_seconds": 0.01, "poll_max_seconds": 0.05, "timeout_seconds": 5}
#: The test recordings are small: compact them too, as larger ones are.
COMPACT_ALL = {"compact_above_bytes": 0}
#: The fake servers' usual answer (three words naming the upload, in its middle) leaves
#: most of a real recording's speech without words, which the coverage pass would rightly
#: send again; tests about other things keep it off, and the coverage tests turn it on
#: with servers whose words follow the speech (``follow_speech``).
NO_COVERAGE = {"recover_speech": False}


def backend_section(name: str, url: str, token: str = TOKEN) -> dict[str, Any]:
    if name == "octoai":
        return {"endpoint": f"{url}/predict", "health_url": f"{url}/healthcheck", "token": token}
    if name == "runpod":
        return {"base_url": f"{url}/v2", "endpoint_id": RunPodServer.endpoint, "api_key": token}
    if name == "replicate":
        return {"base_url": f"{url}/v1", "version": "cafe1234", "token": token}
    return {"base_url": f"{url}/v1", "model": "whisper-1", "api_key": token}


def remote_config(directory: Path, name: str, url: str, **extra: Any) -> Path:
    sections: dict[str, dict[str, Any]] = {
        "transcribe": {"backend": name},
        f"backends.{name}": {**FAST_POLLS, **NO_COVERAGE, **backend_section(name, url), **extra},
    }
    return write_config(directory, sections)


def make_backend(directory: Path, name: str, url: str, **extra: Any) -> Backend:
    return create_backend(name, load_settings(remote_config(directory, name, url, **extra)))
