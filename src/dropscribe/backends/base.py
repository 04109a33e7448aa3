"""The backend contract (DESIGN.md section 3).

    submit(request) -> Future
    poll(future)    -> Pending | Done | Failed | Gone

``submit`` raises :class:`~dropscribe.errors.BackendError` subclasses;
``poll`` reports outcomes as values. A :class:`Future` is plain data: the
dispatcher stores it in SQLite as soon as ``submit`` returns, and after a
restart hands it back to ``poll`` of a fresh backend object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dropscribe.config.defaults import DEFAULT_MAX_DURATION_SECONDS
from dropscribe.config.vocabulary import Words
from dropscribe.errors import BackendError, BadInput
from dropscribe.transcript import Transcription

if TYPE_CHECKING:
    from dropscribe.config import Settings
    from dropscribe.config.backends import UploadFormat


@dataclass(frozen=True)
class Request:
    """One file to transcribe."""

    job_id: int
    path: Path
    relative_path: str
    size: int
    language: str  # "auto" or a code
    task: str  # "transcribe" or "translate"
    #: transcribe.max_duration_seconds in force for this job (read per job, so a
    #: reload applies to the next file); the default is the setting's.
    max_duration_seconds: float = DEFAULT_MAX_DURATION_SECONDS
    #: Told how many more bytes of the file went out, as the upload goes (a progress bar).
    on_upload: Callable[[int], None] | None = field(default=None, compare=False)
    #: The vocabulary and prompt of the file's folder; each engine takes what it can use.
    words: Words = field(default_factory=Words)
    #: Someone watches the progress (``transcribe`` on a terminal): the embedded engine
    #: decodes batched windows in smaller batches, so that progress comes as it goes.
    watched: bool = False


@dataclass
class Future:
    """What is needed to find a submitted job again, even after a restart."""

    backend: str
    remote_id: str
    submitted_at: float
    poll_url: str | None = None
    result_url: str | None = None
    expires_at: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Future:
        return cls(**data)


@dataclass(frozen=True)
class Pending:
    """Still working; ``position`` is seconds of audio done, when the backend knows."""

    position: float | None = None
    duration: float | None = None


@dataclass(frozen=True)
class Done:
    result: Transcription


@dataclass(frozen=True)
class Failed:
    error: BackendError | BadInput


@dataclass(frozen=True)
class Gone:
    """The backend no longer knows the future (expired, unknown id, restarted worker)."""

    reason: str


Outcome = Pending | Done | Failed | Gone
ProgressCallback = Callable[[float, float | None], None]


class Backend(Protocol):
    name: str

    @property
    def concurrency(self) -> int:
        """Jobs this backend may have in flight at once (it may change once an engine
        knows its hardware: the local engine's workers say how many decodes they run)."""

    #: Files larger than this go to ``fallback`` or fail.
    max_upload_bytes: int | None
    fallback: str | None
    model_name: str | None
    #: True when the work lives in this process (an engine's workers, a request this
    #: process keeps open): on shutdown it goes back to the queue, for no future
    #: survives a restart. False when a server keeps the work and the saved future is
    #: polled again after the restart.
    holds_work_in_process: bool

    def settings_fingerprint(self) -> dict[str, Any]:
        """Return the settings that change a transcript (for reusing results)."""

    def check(self) -> list[str]:
        """Return problems that would stop this backend from working, as sentences."""

    def submit(self, request: Request) -> Future:
        """Start the work; raise Retryable, ServerDown, Permanent or BadInput on failure."""

    def poll(self, future: Future, wait: float) -> Outcome:
        """Return the future's state, blocking up to ``wait`` seconds where it can."""

    def poll_delay(self, polls: int) -> float:
        """Return how long to wait before poll number ``polls`` (0 for blocking polls)."""

    def close(self) -> None:
        """Release processes and connections."""


@runtime_checkable
class CompactUploads(Protocol):
    """A backend that reads compact audio (Opus, MP3, FLAC), so long files go as chunks."""

    #: What it reads, best first.
    upload_formats: tuple[UploadFormat, ...]
    #: True when the audio travels as base64 inside JSON (a third more bytes).
    upload_base64: bool


@runtime_checkable
class WarmsUp(Protocol):
    """A backend with work to do before the first file (the local engine loads its model)."""

    def warm_up(self) -> None:
        """Start what the first file would otherwise wait for."""


class BackendClass(Protocol):
    """A backend's class: what it declares before any object is built, and how to build one."""

    holds_work_in_process: bool

    def __call__(self, settings: Settings) -> Backend: ...
