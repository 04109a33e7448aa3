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
    from dropscribe.backends.base import Backend, BackendClass
    from dropscribe.config import Settings


@dataclass(frozen=True)
class BackendEntry:
    implementation: str
    #: The settings key holding this backend's secret (None: it has none).
    secret_key: str | None = None
    #: Keys it cannot work without (``dropscribe run`` and ``check`` refuse to start).
    required_keys: tuple[str, ...] = ()
    #: The hosted service wants the secret; a compatible server elsewhere may do without.
    secret_needed_when_hosted: bool = False
    #: The key holding its address, asked by ``check`` when it has no health URL.
    address_key: str | None = None


BACKENDS: dict[str, BackendEntry] = {
    "local": BackendEntry("dropscribe.backends.local:LocalBackend"),
    "octoai": BackendEntry(
        "dropscribe.backends.octoai:OctoAIBackend", "token", address_key="endpoint"
    ),
    "runpod": BackendEntry(
        "dropscribe.backends.runpod:RunPodBackend",
        "api_key",
        required_keys=("endpoint_id",),
        secret_needed_when_hosted=True,
    ),
    "replicate": BackendEntry(
        "dropscribe.backends.replicate:ReplicateBackend",
        "token",
        required_keys=("version",),
        secret_needed_when_hosted=True,
        address_key="base_url",
    ),
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


def backend_class(name: str) -> BackendClass:
    """Import and return the class of the backend called ``name``.

    Raises:
        KeyError: if no backend has that name.
    """
    module_name, class_name = BACKENDS[name].implementation.split(":")
    found: BackendClass = getattr(importlib.import_module(module_name), class_name)
    return found


def create_backend(name: str, settings: Settings) -> Backend:
    """Import and build the backend called ``name`` from its settings section.

    Raises:
        KeyError: if no backend has that name.
    """
    return backend_class(name)(settings)
