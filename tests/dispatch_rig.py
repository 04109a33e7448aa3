"""An in-process dispatcher on a real store, outbox and finisher, with fake backends
at the contract and a manual clock (tests/test_dispatcher.py, tests/test_reload.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from dropscribe.backends.base import Backend
from dropscribe.config import Settings, load_settings
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.dispatcher import Dispatcher
from dropscribe.jobs.states import TERMINAL, JobState
from dropscribe.jobs.store import Job, Store
from dropscribe.outbox.hooks import Hooks
from dropscribe.outbox.writer import Outbox
from tests.fake_backend import FakeBackend
from tests.helpers import write_config


class ManualClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def no_factory(name: str, _settings: Settings) -> Backend:
    raise KeyError(f"no fake backend called {name}")


class Rig:
    def __init__(
        self,
        directory: Path,
        backends: dict[str, Backend],
        sections: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.settings = load_settings(write_config(directory, sections))
        paths = self.settings.paths
        for folder in (paths.inbox, paths.outbox, paths.failed):
            folder.mkdir(parents=True, exist_ok=True)
        self.clock = ManualClock()
        for backend in backends.values():
            if isinstance(backend, FakeBackend):
                backend.clock = self.clock
        self.store = Store(paths.state, clock=self.clock)
        self.outbox = Outbox(paths.outbox, list(self.settings.transcribe.formats))
        self.finisher = Finisher(self.settings, self.store, self.outbox, Hooks([], [], 5))
        self.wake = threading.Event()
        self.dispatcher = Dispatcher(
            lambda: self.settings,
            self.store,
            self.finisher,
            self.clock,
            self.wake,
            backend_factory=no_factory,
            backends=backends,
        )

    def add(
        self, name: str, backend: str = "local", size: int = 100, sha256: str | None = None
    ) -> Job:
        """A file of ``size`` bytes in the inbox and its queued job (recorded with
        ``sha256`` when given: "" is what intake records for a file it refused)."""
        path = self.settings.paths.inbox / name
        path.write_bytes(b"x" * size)
        job = self.store.add_job(
            path=name,
            sha256=f"{abs(hash(name)):064x}" if sha256 is None else sha256,
            size=size,
            mtime=0.0,
            output_name=name.rsplit(".", 1)[0],
            backend=backend,
            language="auto",
            task="transcribe",
            settings_key="k",
        )
        return self.store.move(job.id, JobState.QUEUED, next_attempt_at=self.clock())

    def step(self, timeout: float = 5.0) -> int:
        """Start what is due now and wait until every started job has settled."""
        started = self.dispatcher.pump(self.clock())
        deadline = time.monotonic() + timeout
        while self.dispatcher.in_flight():
            if time.monotonic() > deadline:
                raise AssertionError("jobs still in flight")
            self.wake.wait(0.05)
            self.wake.clear()
        return started

    def job(self, job: Job) -> Job:
        return self.store.get(job.id)

    def finished(self, job: Job) -> bool:
        return self.job(job).state in TERMINAL

    def close(self) -> None:
        self.dispatcher.stop(1.0)
        self.store.close()
