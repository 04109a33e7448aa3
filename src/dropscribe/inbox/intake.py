"""From paths in the inbox to jobs in the store.

Paths come from watcher events and scans; the stability tracker holds them
until they are finished; then each is checked, hashed and recorded. Bad input
that can be judged here (empty, too large, unreadable, a directory or a link
with an audio name) fails at once with a clear error sidecar.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from dropscribe.config import Settings
from dropscribe.errors import BadInput
from dropscribe.inbox.filters import InboxFilter
from dropscribe.inbox.stability import StabilityTracker
from dropscribe.jobs.states import TERMINAL, JobState
from dropscribe.jobs.store import Store
from dropscribe.outbox.completion import Finisher
from dropscribe.outbox.transcript import Transcription

log = structlog.get_logger("dropscribe.inbox.intake")

HASH_CHUNK = 1024 * 1024
#: Files recorded per transaction when many are ready at once.
INTAKE_BATCH = 200


def hash_file(path: Path) -> str:
    """Return the SHA-256 of the file's content, never following a symbolic link."""
    digest = hashlib.sha256()
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def settings_key(backend: str, language: str, task: str, fingerprint: dict[str, Any]) -> str:
    """Return the key under which a result is reused: same content, same settings."""
    payload = json.dumps([backend, language, task, fingerprint], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


#: The longest sidecar suffix; a name plus it must fit in the 255 bytes of a file name.
LONGEST_SUFFIX = ".error.json"
NAME_MAX = 255


def fit_name(name: str) -> str:
    """Return ``name``, or a shortened one with a hash of the whole, so that every
    sidecar name made from it fits in a file name (255 bytes)."""
    room = NAME_MAX - len(LONGEST_SUFFIX)
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= room:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:8]
    head = encoded[: room - 9].decode("utf-8", "ignore")  # never cut a character in two
    return f"{head}~{digest}"


def output_stem(relative_path: str) -> str:
    """Return the relative path without its extension: ``calls/a.wav`` -> ``calls/a``."""
    folder, _, name = relative_path.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = fit_name(stem)
    return f"{folder}/{stem}" if folder else stem


def fit_name_path(relative_path: str) -> str:
    """Return ``relative_path`` with its last part fitted by :func:`fit_name`."""
    folder, _, name = relative_path.rpartition("/")
    return f"{folder}/{fit_name(name)}" if folder else fit_name(name)


class Intake:
    def __init__(
        self,
        current: Callable[[], Settings],
        store: Store,
        finisher: Finisher,
        fingerprint: Callable[[str], dict[str, Any]],
        clock: Callable[[], float],
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        # The settings in force are read for each file (a reload swaps them);
        # the inbox, filter and settle time need a restart.
        self.current = current
        settings = current()
        self.heartbeat = heartbeat
        self.inbox = settings.paths.inbox
        self.store = store
        self.finisher = finisher
        self.fingerprint = fingerprint
        self.clock = clock
        self.filter = InboxFilter(settings.watch.extensions, settings.watch.ignore)
        self.tracker = StabilityTracker(settings.watch.settle_seconds)
        # (size, mtime) of files already turned into jobs: rescans skip them unhashed.
        self.known: dict[str, tuple[int, float]] = store.known_files()

    @property
    def settings(self) -> Settings:
        return self.current()

    def relative(self, path: str) -> str | None:
        try:
            relative = Path(path).relative_to(self.inbox).as_posix()
        except ValueError:
            return None
        return relative if relative != "." else None

    def look(self, relative: str, now: float) -> None:
        """Note the current size and mtime of a reported path, or forget it if it is gone."""
        if not self.filter(relative) and not self._audio_named_special(relative):
            return
        try:
            info = os.lstat(self.inbox / relative)
        except (FileNotFoundError, NotADirectoryError):
            # Removed before it was stable: forgotten silently.
            self.tracker.forget(relative)
            return
        except OSError as exc:
            log.warning("cannot_stat", file=relative, error=str(exc))
            return
        if self.known.get(relative) == (info.st_size, info.st_mtime):
            return
        if stat.S_ISREG(info.st_mode):
            self.tracker.observe(relative, info.st_size, info.st_mtime, now)
        else:
            self._reject_special(relative, info.st_mode, info)

    def _audio_named_special(self, relative: str) -> bool:
        *folders, name = relative.split("/")
        if any(self.filter.ignores_folder(folder) for folder in folders) or name.startswith("."):
            return False
        return self.filter.has_audio_extension(name)

    def process_due(self, now: float) -> int:
        """Turn every file that has been quiet long enough into a job; return how many.

        Files are recorded in batches, one commit each, with a heartbeat between them
        so that a large inbox never starves the service watchdog.
        """
        due = self.tracker.due(now)
        accepted = 0
        for start in range(0, len(due), INTAKE_BATCH):
            with self.store.batch():
                accepted += self._process(due[start : start + INTAKE_BATCH], now)
            self.heartbeat()
        return accepted

    def _process(self, due: list[str], now: float) -> int:
        accepted = 0
        for relative in due:
            try:
                info = os.lstat(self.inbox / relative)
            except OSError:
                self.tracker.forget(relative)
                continue
            if not self.tracker.matches(relative, info.st_size, info.st_mtime):
                self.tracker.observe(relative, info.st_size, info.st_mtime, now)
                continue
            self.tracker.forget(relative)
            accepted += self._accept(relative, info, now)
        return accepted

    def _accept(self, relative: str, info: os.stat_result, now: float) -> int:
        path = self.inbox / relative
        size, mtime = info.st_size, info.st_mtime
        limit = self.settings.transcribe.max_file_bytes
        if size == 0:
            return self._reject(
                relative,
                hashlib.sha256().hexdigest(),
                info,
                BadInput("The file is empty (0 bytes); upload the recording again."),
            )
        if size > limit:
            return self._reject(
                relative,
                "",
                info,
                BadInput(
                    f"The file is {size / 2**20:.0f} MB, over the configured maximum of "
                    f"{limit / 2**20:.0f} MB (transcribe.max_file_bytes); "
                    "raise the limit or split it."
                ),
            )
        try:
            sha256 = hash_file(path)
        except FileNotFoundError:
            return 0
        except PermissionError:
            return self._reject(
                relative,
                "",
                info,
                BadInput(
                    "The file cannot be read (permission denied); make it readable by the user "
                    "dropscribe runs as, then run: dropscribe retry --failed."
                ),
            )
        except OSError as exc:
            log.warning("cannot_read", file=relative, error=str(exc))
            return 0
        latest = self.store.latest_for(relative, sha256)
        keeps_originals = self.settings.paths.originals == "keep" or (
            self.settings.paths.originals == "archive" and self.settings.paths.archive is None
        )
        if latest is not None and (
            latest.state not in TERMINAL
            or (keeps_originals and latest.state in (JobState.DONE, JobState.SKIPPED))
        ):
            self.known[relative] = (size, mtime)
            return 0
        job = self._new_job(relative, sha256, size, mtime)
        self.known[relative] = (size, mtime)
        reused = self.store.result_for(sha256, job.settings_key)
        if reused is not None:
            log.info("duplicate_reused", job=job.id, file=relative)
            self.finisher.succeed(job, Transcription.from_dict(reused), final=JobState.SKIPPED)
        else:
            self.store.move(job.id, JobState.QUEUED, next_attempt_at=now)
            log.info("job_queued", job=job.id, file=relative, backend=job.backend)
        return 1

    def _new_job(self, relative: str, sha256: str, size: int, mtime: float) -> Any:
        override = self.settings.folder_override(relative)
        transcribe = self.settings.transcribe
        backend = override.backend or transcribe.backend
        language = override.language or transcribe.language
        task = override.task or transcribe.task
        stem = output_stem(relative)
        return self.store.add_job(
            path=relative,
            sha256=sha256,
            size=size,
            mtime=mtime,
            output_name=self.store.output_name_for(relative, stem, fit_name_path(relative)),
            backend=backend,
            language=language,
            task=task,
            settings_key=settings_key(backend, language, task, self.fingerprint(backend)),
        )

    def _reject(self, relative: str, sha256: str, info: os.stat_result, error: BadInput) -> int:
        job = self._new_job(relative, sha256, info.st_size, info.st_mtime)
        self.known[relative] = (info.st_size, info.st_mtime)
        self.finisher.fail(job, error)
        return 1

    def _reject_special(self, relative: str, mode: int, info: os.stat_result) -> None:
        if self.store.latest_for(relative, "") is not None:
            self.known[relative] = (info.st_size, info.st_mtime)
            return
        if stat.S_ISLNK(mode):
            error = BadInput(
                "The file is a symbolic link, which dropscribe never follows; "
                "copy the recording itself into the inbox."
            )
        elif stat.S_ISDIR(mode):
            error = BadInput(
                "This is a directory with an audio file's name, not a recording; "
                "rename it (the files inside it are transcribed as usual)."
            )
        else:
            error = BadInput(
                "This is not a regular file (a pipe, socket or device); "
                "copy the recording itself into the inbox."
            )
        self._reject(relative, "", info, error)
