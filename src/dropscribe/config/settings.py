"""The whole configuration and the one reference to the settings in force."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dropscribe.config.backends import BackendsSettings, LocalSettings, RemoteSettings
from dropscribe.config.environment import ENV_PREFIX, EnvironmentSource
from dropscribe.config.sections import (
    FolderOverride,
    LogSettings,
    PathsSettings,
    ServiceSettings,
    TranscribeSettings,
    WatchSettings,
)
from dropscribe.config.vocabulary import Words, resolve_words


class Settings(BaseSettings):
    """The whole configuration, frozen once loaded (see :class:`CurrentSettings`)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    paths: PathsSettings = Field(default_factory=PathsSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    transcribe: TranscribeSettings = Field(default_factory=TranscribeSettings)
    folders: dict[str, FolderOverride] = Field(default_factory=dict)
    backends: BackendsSettings = Field(default_factory=BackendsSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values come in as init arguments; variables override them.
        return (EnvironmentSource(settings_cls), init_settings)

    def backend_settings(self, name: str) -> LocalSettings | RemoteSettings:
        """Return the section of the backend called ``name``."""
        section: LocalSettings | RemoteSettings = getattr(self.backends, name)
        return section

    def reachable_from(self, backend: str) -> list[str]:
        """Return ``backend`` and, in order, the fallbacks a file sent to it may go on to."""
        chain = [backend]
        while (fallback := self.backend_settings(chain[-1]).fallback) and fallback not in chain:
            chain.append(fallback)
        return chain

    def backend_names(self) -> list[str]:
        """Return every backend a file may reach: the chosen ones and their fallbacks."""
        chosen = {self.transcribe.backend}
        chosen.update(o.backend for o in self.folders.values() if o.backend)
        return sorted({name for first in chosen for name in self.reachable_from(first)})

    def folder_override(self, relative_path: str) -> FolderOverride:
        """Return the merged overrides of the folders that contain ``relative_path``."""
        merged = FolderOverride()
        parts = relative_path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            override = self.folders.get("/".join(parts[:depth]))
            if override is not None:
                merged = merged.model_copy(update=override.model_dump(exclude_none=True))
        return merged

    def words_for(self, relative_path: str) -> Words:
        """Return the vocabulary and prompt in force for ``relative_path`` (the innermost
        folder that sets one replaces the ``[transcribe]`` value)."""
        override = self.folder_override(relative_path)
        transcribe = self.transcribe
        vocabulary = (
            override.vocabulary if override.vocabulary is not None else transcribe.vocabulary
        )
        prompt = override.prompt if override.prompt is not None else transcribe.prompt
        return resolve_words(vocabulary, prompt)

    def formats_for(self, relative_path: str) -> list[str]:
        """Return the sidecar formats for ``relative_path`` (a folder's list replaces the
        ``[transcribe]`` one)."""
        override = self.folder_override(relative_path)
        return list(override.formats if override.formats is not None else self.transcribe.formats)


class CurrentSettings:
    """The one reference to the settings in force.

    Components read :meth:`get` for each job instead of keeping values they were
    given at start; a reload builds new settings and swaps them in with one
    assignment, so a job sees either the old settings or the new, never a mix.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self) -> Settings:
        return self._settings

    def swap(self, settings: Settings) -> Settings:
        """Put ``settings`` in force; return the settings they replace."""
        old, self._settings = self._settings, settings
        return old
