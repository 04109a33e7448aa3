"""The one list of backend implementations: each name and where its class lives.

Implementations are ``"module:Class"`` strings imported only when chosen, so
faster-whisper loads only for ``local``. The names are configuration's
(:data:`dropscribe.config.sections.BACKEND_NAMES`; a test holds them equal),
and so are the facts about each backend's keys (the class variables of its
settings section).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dropscribe.backends.base import Backend, BackendClass
    from dropscribe.config import Settings


IMPLEMENTATIONS: dict[str, str] = {
    "local": "dropscribe.backends.local.backend:LocalBackend",
    "octoai": "dropscribe.backends.remote.octoai:OctoAIBackend",
    "runpod": "dropscribe.backends.remote.runpod:RunPodBackend",
    "replicate": "dropscribe.backends.remote.replicate:ReplicateBackend",
    "openai": "dropscribe.backends.remote.openai:OpenAIBackend",
}

#: Every backend name, in the order the README lists them.
NAMES: tuple[str, ...] = tuple(IMPLEMENTATIONS)


def backend_class(name: str) -> BackendClass:
    """Import and return the class of the backend called ``name``.

    Raises:
        KeyError: if no backend has that name.
    """
    module_name, class_name = IMPLEMENTATIONS[name].split(":")
    found: BackendClass = getattr(importlib.import_module(module_name), class_name)
    return found


def create_backend(name: str, settings: Settings) -> Backend:
    """Import and build the backend called ``name`` from its settings section.

    Raises:
        KeyError: if no backend has that name.
    """
    return backend_class(name)(settings)
