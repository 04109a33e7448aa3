"""Settings: one TOML file, overridden by ``DROPSCRIBE_<SECTION>__<KEY>`` variables.

A list in a variable is either comma-separated (``txt,srt``) or a JSON array
(``["txt", "srt"]``); a table is JSON. Relative paths are relative to the
configuration file's directory. Secrets
(``token``, ``api_key``) may also come from ``$CREDENTIALS_DIRECTORY``
(systemd ``LoadCredential=``) as a file named ``<backend>_<key>``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from dropscribe.backends import registry
from dropscribe.backends.languages import language_code
from dropscribe.config_env import (
    ENV_PREFIX,
    EnvironmentSource,
    UnreadableVariable,
    variable_for,
)
from dropscribe.errors import ConfigError
from dropscribe.outbox.originals import archive_folder

#: A backend's name, checked against the registry (the one list of backends).
BackendName = Annotated[str, AfterValidator(registry.check_name)]
Format = Literal["json", "txt", "srt", "vtt"]
DEFAULT_EXTENSIONS = ["wav", "mp3", "m4a", "flac", "ogg", "opus", "webm", "aac", "aiff"]
#: Video containers: their audio track is transcribed (issue 13).
DEFAULT_EXTENSIONS += ["mp4", "mkv", "mov", "m4v", "avi"]


def _all_formats() -> list[Format]:
    return ["json", "txt", "srt", "vtt"]


class Section(BaseModel):
    # Frozen: settings are built and checked once; a reload builds new ones.
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsSettings(Section):
    inbox: Path = Field(Path("inbox"), description="Where recordings are dropped.")
    outbox: Path = Field(Path("outbox"), description="Where sidecars are written.")
    archive: Path | None = Field(
        Path("archive"), description='Originals after success; "" keeps them in place.'
    )
    failed: Path = Field(Path("failed"), description="Originals whose transcription failed.")
    state: Path = Field(Path("state/dropscribe.sqlite3"), description="The SQLite job store.")
    originals: Literal["archive", "keep", "delete"] = Field(
        "archive", description="What happens to an original after its transcript is written."
    )

    @field_validator("archive", mode="before")
    @classmethod
    def _empty_archive_keeps(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @model_validator(mode="before")
    @classmethod
    def _no_archive_means_keep(cls, data: Any) -> Any:
        # One place decides what an empty archive means: originals stay where they are.
        # (Decided on the input: the settings are frozen once validated.)
        if not isinstance(data, dict) or data.get("archive", "archive") not in ("", None):
            return data
        if data.get("originals") == "archive":
            raise ValueError(
                'paths.archive is "" but paths.originals = "archive": name an archive '
                'folder, or set originals = "keep"'
            )
        return {**data, "originals": data.get("originals", "keep")}


def _language(value: str | None) -> str | None:
    """Return "auto" or a Whisper language code for a code or a name; refuse anything else."""
    if value is None or value == "auto":
        return value
    code = language_code(value)
    if code is None:
        raise ValueError(
            f'{value!r} is not a language Whisper knows; use "auto" or a code such as "en" or "fr"'
        )
    return code


class WatchSettings(Section):
    mode: Literal["auto", "events", "polling"] = "auto"
    settle_seconds: float = Field(2.0, ge=0, description="Quiet time before a file is ready.")
    rescan_seconds: float = Field(300, gt=0, description="Full rescan period, a safety net.")
    poll_seconds: float = Field(1.0, gt=0, description="Polling period in polling mode.")
    extensions: list[str] = Field(default_factory=lambda: list(DEFAULT_EXTENSIONS))
    ignore: list[str] = Field(default_factory=list, description="Extra glob patterns to ignore.")

    @field_validator("extensions")
    @classmethod
    def _normalise_extensions(cls, value: list[str]) -> list[str]:
        return [ext.lower().lstrip(".") for ext in value]


class FolderOverride(Section):
    """Settings for one sub-folder of the inbox (and everything below it)."""

    backend: BackendName | None = None
    language: str | None = None
    task: Literal["transcribe", "translate"] | None = None
    diarize: bool | None = None
    speakers: int | None = Field(None, ge=0)

    _known_language = field_validator("language")(_language)


class TranscribeSettings(Section):
    backend: BackendName = "local"
    language: str = Field("auto", description='"auto" or a language code such as "en".')
    task: Literal["transcribe", "translate"] = "transcribe"
    formats: list[Format] = Field(default_factory=_all_formats)
    max_attempts: int = Field(3, ge=1, description="Attempts before a job fails for good.")
    retry_base_seconds: float = Field(2.0, gt=0, description="First retry delay; doubles.")
    retry_max_seconds: float = Field(300.0, gt=0, description="Longest retry delay.")
    transient_budget_seconds: float = Field(
        3600.0,
        ge=0,
        description="How long a file rides out server trouble (5xx, resets, timeouts) before "
        "its attempts count.",
    )
    max_file_bytes: int = Field(2 * 1024**3, gt=0, description="Larger files fail at once.")
    max_duration_seconds: float = Field(
        6 * 3600, gt=0, description="Longer recordings fail instead of being transcribed."
    )
    cue_line_chars: int = Field(42, ge=10, description="Subtitles: characters a line, at most.")
    cue_lines: int = Field(2, ge=1, le=3, description="Subtitles: lines a cue, at most.")
    cue_min_seconds: float = Field(1.0, ge=0, description="Subtitles: shortest time on screen.")
    cue_max_seconds: float = Field(7.0, gt=0, description="Subtitles: longest time on screen.")
    cue_chars_per_second: float = Field(
        20.0, gt=0, description="Subtitles: fastest reading speed, where the timing allows."
    )

    @model_validator(mode="after")
    def _cue_times_in_order(self) -> TranscribeSettings:
        if self.cue_min_seconds > self.cue_max_seconds:
            raise ValueError(
                "cue_min_seconds is longer than cue_max_seconds; make it shorter (default 1.0 s)."
            )
        return self

    _known_language = field_validator("language")(_language)

    diarize: bool = Field(False, description="Speaker labels on words and segments.")
    speakers: int = Field(0, ge=0, description="0: count the speakers; or their number.")
    min_speakers: int = Field(1, ge=1, description="When counting: at least this many.")
    max_speakers: int = Field(8, ge=1, description="When counting: at most this many.")

    @model_validator(mode="after")
    def _speaker_bounds_in_order(self) -> TranscribeSettings:
        if self.min_speakers > self.max_speakers:
            raise ValueError(
                f"min_speakers ({self.min_speakers}) is above max_speakers "
                f"({self.max_speakers}); lower one or raise the other"
            )
        return self

    audio_track: int | str = Field(
        "auto",
        description='Which audio track of a file: "auto" (the default track, else the first), '
        'a number from 0, or a language tag such as "en" (else "auto").',
    )

    @field_validator("audio_track", mode="before")
    @classmethod
    def _parse_audio_track(cls, value: Any) -> int | str:
        from dropscribe.audio.tracks import parse_audio_track

        return parse_audio_track(value)


class LocalSettings(Section):
    model: str = Field("tiny.en", description="A model name, or a CTranslate2 model directory.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = Field("default", description='"default": int8 on CPU, float16 on GPU.')
    cpu_threads: int = Field(0, ge=0, description="Threads per decode; 0: automatic.")
    parallel_decodes: int = Field(
        0, ge=0, description="Decodes at once in a worker, each with a model copy; 0: automatic."
    )
    beam_size: int = Field(5, ge=1)
    vad_filter: bool = False
    word_timestamps: bool = True
    initial_prompt: str | None = None
    workers: int = Field(1, ge=1, description="Worker processes, each with its own model.")
    timeout_seconds: float = Field(
        0, ge=0, description="Longest time for one file; 0 means 3x its duration + 60 s."
    )
    max_memory_mb: int = Field(
        0,
        ge=0,
        description="Worker resident memory limit; 0: half the machine's memory (or its "
        "cgroup limit), shared among the workers, at least 1024 MB.",
    )
    batched: Literal["auto", "on", "off", "parts"] = Field(
        "auto", description="auto (measured), on (batched), off (sequential), parts (at pauses)."
    )
    batch_size: int = Field(8, ge=1)
    fallback: BackendName | None = None


class RemoteSettings(Section):
    """What every remote backend shares."""

    concurrency: int = Field(4, ge=1, description="Jobs in flight at once on this backend.")
    timeout_seconds: float = Field(60.0, gt=0, description="Per HTTP request.")
    deadline_seconds: float = Field(3600.0, gt=0, description="Longest life of one future.")
    poll_initial_seconds: float = Field(0.5, gt=0)
    poll_max_seconds: float = Field(15.0, gt=0)
    max_upload_bytes: int = Field(100 * 1024**2, gt=0, description="Larger files use fallback.")
    max_response_bytes: int = Field(50 * 1024**2, gt=0)
    fallback: BackendName | None = None
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts besides the endpoint's own for poll/result URLs."
    )
    verify_tls: bool = True
    upload_format: Literal["auto", "original", "opus", "flac", "mp3"] = Field(
        "auto", description="What is uploaded: auto picks the smallest the protocol reads."
    )
    max_chunk_seconds: float = Field(
        600.0, ge=10, description="Longer recordings go as chunks cut at pauses."
    )
    compact_above_bytes: int = Field(
        1024**2, ge=0, description="Smaller files are uploaded as they are, not compacted."
    )
    prepare_timeout_seconds: float = Field(
        900.0, gt=0, description="Longest time to decode and compact one recording."
    )
    prepare_memory_mb: int = Field(
        2048, ge=0, description="Address-space limit of the compacting worker; 0: none."
    )


class OctoAISettings(RemoteSettings):
    endpoint: str = "http://127.0.0.1:8080/predict"
    health_url: str | None = None
    token: SecretStr | None = None
    retention_seconds: float = 24 * 3600
    max_upload_bytes: int = 10 * 1024**2


class RunPodSettings(RemoteSettings):
    base_url: str = "https://api.runpod.ai/v2"
    endpoint_id: str = ""
    api_key: SecretStr | None = None
    model: str = "base"
    enable_vad: bool = False
    retention_seconds: float = 30 * 60
    max_upload_bytes: int = 10 * 1024**2


class ReplicateSettings(RemoteSettings):
    base_url: str = "https://api.replicate.com/v1"
    version: str = ""
    token: SecretStr | None = None
    retention_seconds: float = 3600


class OpenAISettings(RemoteSettings):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "whisper-1"
    api_key: SecretStr | None = None
    max_upload_bytes: int = 25 * 1024**2
    concurrency: int = 2


class BackendsSettings(Section):
    local: LocalSettings = Field(default_factory=LocalSettings)
    octoai: OctoAISettings = Field(default_factory=OctoAISettings)
    runpod: RunPodSettings = Field(default_factory=RunPodSettings)
    replicate: ReplicateSettings = Field(default_factory=ReplicateSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)


class ServiceSettings(Section):
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus endpoint; 0: off.")
    metrics_address: str = "127.0.0.1"
    on_done: list[str] = Field(default_factory=list, description="Command run after a transcript.")
    on_failed: list[str] = Field(default_factory=list, description="Command run after a failure.")
    hook_timeout_seconds: float = 60.0


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


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


SECRET_KEYS = registry.secret_keys()


def load_settings(path: Path | None) -> Settings:
    """Read and validate the configuration.

    Raises:
        ConfigError: with one line per problem (key, bad value, what is allowed).
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(
                [f"config: {path} does not exist; pass --config with an existing TOML file"]
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"config: {path} is not valid TOML ({exc})"]) from None
        base = path.resolve().parent
    try:
        settings = _load_credentials(_anchor_paths(Settings(**data), base))
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from None
    except UnreadableVariable as exc:
        name = variable_for(exc.key, exc.value, dict(os.environ))
        raise ConfigError(
            [
                f"{name}: cannot read {exc.value!r}: give a list as comma-separated words "
                '(txt,srt) or a JSON array (["txt", "srt"]), a table as a JSON object'
            ]
        ) from None
    problems = check_paths(settings)
    if problems:
        raise ConfigError(problems)
    return settings


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling in config.example.toml"
    if error["type"] == "missing":
        return f"{key}: required but missing"
    if error["type"] == "value_error":
        reason = str(error["ctx"]["error"])
        return reason if reason.startswith(key + ".") else f"{key}: {reason}"
    return f"{key}: bad value {value!r}: {error['msg']}"


def _anchor_paths(settings: Settings, base: Path) -> Settings:
    """Return ``settings`` with relative paths made absolute against ``base``."""
    paths = settings.paths
    anchored = {
        key: (base / getattr(paths, key)).resolve()
        for key in ("inbox", "outbox", "failed", "state", "archive")
        if getattr(paths, key) is not None
    }
    backends = settings.backends
    local = backends.local
    if local.model.startswith((".", "/")):
        local = local.model_copy(update={"model": str((base / local.model).resolve())})
    return settings.model_copy(
        update={
            "paths": paths.model_copy(update=anchored),
            "backends": backends.model_copy(update={"local": local}),
        }
    )


def _load_credentials(settings: Settings) -> Settings:
    """Return ``settings`` with secrets missing from the file taken from
    ``$CREDENTIALS_DIRECTORY``, where systemd puts them."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return settings
    sections = {}
    for backend, key in SECRET_KEYS.items():
        section = getattr(settings.backends, backend)
        candidate = Path(directory) / f"{backend}_{key}"
        if getattr(section, key) is None and candidate.is_file():
            secret = SecretStr(candidate.read_text().strip())
            sections[backend] = section.model_copy(update={key: secret})
    if not sections:
        return settings
    backends = settings.backends.model_copy(update=sections)
    return settings.model_copy(update={"backends": backends})


def inbox_problem(paths: PathsSettings) -> str | None:
    """Return why the daemon must not start with this inbox, or None.

    A missing inbox is created only when its parent exists: creating a mistyped
    path with all its parents would watch a folder nobody drops files into.
    """
    inbox = paths.inbox
    if inbox.is_dir():
        return None
    if inbox.exists():
        return f"paths.inbox: {inbox} is not a directory; point paths.inbox at a folder"
    if inbox.parent.is_dir():
        return None
    return (
        f"paths.inbox: {inbox} does not exist and neither does its parent {inbox.parent}; "
        "correct the path, or create the folder (mkdir -p) if it is the right one"
    )


def check_paths(settings: Settings) -> list[str]:
    """Return one line per directory that overlaps the inbox in a way that loops."""
    paths = settings.paths
    problems = []
    others = {"paths.outbox": paths.outbox, "paths.failed": paths.failed}
    archive = archive_folder(paths)
    if archive is not None:
        others["paths.archive"] = archive
    for key, other in others.items():
        if other == paths.inbox or other.is_relative_to(paths.inbox):
            problems.append(
                f"{key}: bad value '{other}': it is inside the inbox '{paths.inbox}', so "
                "dropscribe would transcribe its own output; choose a directory outside it"
            )
        elif paths.inbox.is_relative_to(other):
            problems.append(
                f"{key}: bad value '{other}': it contains the inbox '{paths.inbox}'; "
                "choose a directory beside the inbox instead"
            )
    if paths.state.is_relative_to(paths.inbox):
        problems.append(
            f"paths.state: bad value '{paths.state}': the job store must not be inside the inbox"
        )
    return problems
