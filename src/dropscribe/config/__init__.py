"""Settings: one TOML file, overridden by ``DROPSCRIBE_<SECTION>__<KEY>`` variables.

The models live in :mod:`.sections` (paths, watching, transcription, service,
logs), :mod:`.backends` (one section a backend) and :mod:`.settings` (the whole);
reading them in :mod:`.loading`, variables in :mod:`.environment`. Import the
public names from here.

The names load when first asked for: a worker process that needs one small rule
of this package (the bundled model's name, the audio-track setting) does not
load pydantic and every section with it (0.3 s of CPU and 17 MB per worker).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dropscribe.config.backends import (
        BackendsSettings,
        LocalSettings,
        OctoAISettings,
        OpenAISettings,
        RemoteSettings,
        ReplicateSettings,
        RunPodSettings,
    )
    from dropscribe.config.loading import SECRET_KEYS, check_paths, inbox_problem, load_settings
    from dropscribe.config.sections import (
        DEFAULT_EXTENSIONS,
        BackendName,
        FolderOverride,
        Format,
        LogSettings,
        PathsSettings,
        Section,
        ServiceSettings,
        TranscribeSettings,
        WatchSettings,
    )
    from dropscribe.config.settings import CurrentSettings, Settings
    from dropscribe.config.vocabulary import Words

#: Where each public name lives.
_HOMES: dict[str, str] = {
    "DEFAULT_EXTENSIONS": "dropscribe.config.sections",
    "SECRET_KEYS": "dropscribe.config.loading",
    "BackendName": "dropscribe.config.sections",
    "BackendsSettings": "dropscribe.config.backends",
    "CurrentSettings": "dropscribe.config.settings",
    "FolderOverride": "dropscribe.config.sections",
    "Format": "dropscribe.config.sections",
    "LocalSettings": "dropscribe.config.backends",
    "LogSettings": "dropscribe.config.sections",
    "OctoAISettings": "dropscribe.config.backends",
    "OpenAISettings": "dropscribe.config.backends",
    "PathsSettings": "dropscribe.config.sections",
    "RemoteSettings": "dropscribe.config.backends",
    "ReplicateSettings": "dropscribe.config.backends",
    "RunPodSettings": "dropscribe.config.backends",
    "Section": "dropscribe.config.sections",
    "ServiceSettings": "dropscribe.config.sections",
    "Settings": "dropscribe.config.settings",
    "TranscribeSettings": "dropscribe.config.sections",
    "WatchSettings": "dropscribe.config.sections",
    "Words": "dropscribe.config.vocabulary",
    "check_paths": "dropscribe.config.loading",
    "inbox_problem": "dropscribe.config.loading",
    "load_settings": "dropscribe.config.loading",
}

__all__ = [
    "DEFAULT_EXTENSIONS",
    "SECRET_KEYS",
    "BackendName",
    "BackendsSettings",
    "CurrentSettings",
    "FolderOverride",
    "Format",
    "LocalSettings",
    "LogSettings",
    "OctoAISettings",
    "OpenAISettings",
    "PathsSettings",
    "RemoteSettings",
    "ReplicateSettings",
    "RunPodSettings",
    "Section",
    "ServiceSettings",
    "Settings",
    "TranscribeSettings",
    "WatchSettings",
    "Words",
    "check_paths",
    "inbox_problem",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    """Import the module that holds ``name`` on first use, and keep the name here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
