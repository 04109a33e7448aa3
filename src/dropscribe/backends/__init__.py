"""Backends by name, each imported only when chosen (faster-whisper loads only for ``local``)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dropscribe.backends.base import Backend
    from dropscribe.config import Settings

IMPLEMENTATIONS = {
    "local": "dropscribe.backends.local:LocalBackend",
    "octoai": "dropscribe.backends.octoai:OctoAIBackend",
    "runpod": "dropscribe.backends.runpod:RunPodBackend",
    "replicate": "dropscribe.backends.replicate:ReplicateBackend",
    "openai": "dropscribe.backends.openai:OpenAIBackend",
}


def create_backend(name: str, settings: Settings) -> Backend:
    """Import and build the backend called ``name`` from its settings section."""
    module_name, class_name = IMPLEMENTATIONS[name].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = backend_class(settings)
    return backend
