"""Settings: one TOML file, overridden by ``DROPSCRIBE_<SECTION>__<KEY>`` variables.

The models live in :mod:`.sections` (paths, watching, transcription, service,
logs), :mod:`.backends` (one section a backend) and :mod:`.settings` (the whole);
reading them in :mod:`.loading`, variables in :mod:`.environment`. Import the
public names from here.
"""

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
