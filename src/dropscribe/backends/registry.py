"""The one list of backends: each name, where its class lives, and its secret.

Implementations are ``"module:Class"`` strings imported only when chosen, so
faster-whisper loads only for ``local``. Configuration, ``check`` and the
command line ask this module; no other list of backend names exists.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dropscribe.backends.base import Backend
    from dropscribe.config import Settings


@dataclass(frozen=True)
class BackendEntry:
    implementation: str
    #: The settings key holding this backend's secret (None: it has none).
    secret_key: str | None = None


BACKENDS: dict[str, BackendEntry] = {
    "local": BackendEntry("dropscribe.backends.local:LocalBackend"),
    "octoai": BackendEntry("dropscribe.backends.octoai:OctoAIBackend", "token"),
    "runpod": BackendEntry("dropscribe.backends.runpod:RunPodBackend", "api_key"),
    "replicate": BackendEntry("dropscribe.backends.replicate:ReplicateBackend", "token"),
    "openai": BackendEntry("dropscribe.backends.openai:OpenAIBackend", "api_key"),
}

#: Every backend name, in the order the README lists them.
NAMES: tuple[str, ...] = tuple(BACKENDS)


def secret_keys() -> dict[str, str]:
    """Return backend name -> the settings key of its secret, for backends that have one."""
    return {name: e.secret_key for name, e in BACKENDS.items() if e.secret_key is not None}


def check_name(name: str) -> str:
    """Return ``name`` if a backend has it.

    Raises:
        ValueError: naming the backends there are (pydantic reports it as a bad value).
    """
    if name not in BACKENDS:
        raise ValueError(
            f"bad value {name!r}: no backend has that name; choose one of {', '.join(NAMES)}"
        )
    return name


def create_backend(name: str, settings: Settings) -> Backend:
    """Import and build the backend called ``name`` from its settings section.

    Raises:
        KeyError: if no backend has that name.
    """
    module_name, class_name = BACKENDS[name].implementation.split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = backend_class(settings)
    return backend
