"""The per-section settings models: paths, watching, transcription, service, logs.

Each section is frozen: settings are built and checked once; a reload builds new ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from dropscribe.config.audio_track import parse_audio_track
from dropscribe.config.defaults import DEFAULT_MAX_DURATION_SECONDS
from dropscribe.config.originals import originals_contradiction
from dropscribe.languages import language_code

#: Every backend's name, in the order the README lists them: each has a section in
#: :class:`~dropscribe.config.backends.BackendsSettings` and an entry in
#: :mod:`dropscribe.backends.registry` (a test holds the three lists equal).
BACKEND_NAMES: tuple[str, ...] = ("local", "octoai", "runpod", "replicate", "openai")


def check_backend_name(name: str) -> str:
    """Return ``name`` if a backend has it.

    Raises:
        ValueError: naming the backends there are (pydantic reports it as a bad value).
    """
    if name not in BACKEND_NAMES:
        known = ", ".join(BACKEND_NAMES)
        raise ValueError(f"bad value {name!r}: no backend has that name; choose one of {known}")
    return name


#: A backend's name, checked against the one list of backends.
BackendName = Annotated[str, AfterValidator(check_backend_name)]
Format = Literal["json", "txt", "srt", "vtt", "docx", "md"]
#: Terms to spell right, or the path of a file with one term a line (config/vocabulary.py).
Vocabulary = list[str] | str
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

    @model_validator(mode="after")
    def _no_contradiction(self) -> PathsSettings:
        # What the two keys mean together is decided in config/originals.py, nowhere else.
        problem = originals_contradiction(self)
        if problem is not None:
            raise ValueError(problem)
        return self


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
    formats: list[Format] | None = None
    vocabulary: Vocabulary | None = None
    prompt: str | None = None
    voices: str | None = None

    _known_language = field_validator("language")(_language)


class TranscribeSettings(Section):
    backend: BackendName = "local"
    language: str = Field("auto", description='"auto" or a language code such as "en".')
    task: Literal["transcribe", "translate"] = "transcribe"
    formats: list[Format] = Field(default_factory=_all_formats)
    vocabulary: Vocabulary = Field(
        default_factory=list,
        description="Terms to spell right, or a file with one term a line (per folder too).",
    )
    prompt: str | None = Field(
        None, description="Context text the engine is primed with (per folder too)."
    )
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
        DEFAULT_MAX_DURATION_SECONDS,
        gt=0,
        description="Longer recordings fail instead of being transcribed.",
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
    voices: str = Field(
        "", description="A folder with one sub-folder of recordings per person, to name speakers."
    )

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
        return parse_audio_track(value)


class ServiceSettings(Section):
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus endpoint; 0: off.")
    metrics_address: str = "127.0.0.1"
    on_done: list[str] = Field(default_factory=list, description="Command run after a transcript.")
    on_failed: list[str] = Field(default_factory=list, description="Command run after a failure.")
    hook_timeout_seconds: float = 60.0
    min_free_mb: float = Field(
        100.0,
        ge=0,
        description="Below this much free space on the outbox's or the store's file system "
        "no new work is taken; 0: not watched.",
    )


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"
