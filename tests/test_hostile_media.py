"""Hostile media cannot exhaust the worker's memory (issue 18): measured on the real worker."""

from __future__ import annotations

import time
from pathlib import Path

from dropscribe.backends.base import Done, Failed, Outcome, Pending, Request
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.config import load_settings
from dropscribe.errors import BadInput
from tests.helpers import AUDIO, write_config
from tests.hostile_media import crafted_files

#: What decoding the crafted files may add to the worker's peak resident memory. They
#: claim or hold hours of audio; unbounded decoding took 5 GB on the first one.
GROWTH_BOUND_MB = 120


def peak_resident_mb(pid: int) -> float:
    """Return a live process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def transcribe(backend: LocalBackend, path: Path, job_id: int) -> tuple[int, Outcome]:
    """Return the worker's pid and the outcome of one file, with a 600 s duration limit."""
    future = backend.submit(
        Request(job_id, path, path.name, path.stat().st_size, "auto", "transcribe", 600)
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        outcome = backend.poll(future, 0.5)
        if not isinstance(outcome, Pending):
            return int(future.data["pid"]), outcome
    raise AssertionError(f"no outcome for {path.name} in time")


def test_crafted_headers_are_refused_with_the_worker_peak_memory_bounded(tmp_path: Path) -> None:
    files = crafted_files(tmp_path / "crafted")
    backend = LocalBackend(load_settings(write_config(tmp_path)))
    try:
        # A real file first: the model is loaded and has run once, so the peak that
        # follows is what the crafted files add.
        pid, outcome = transcribe(backend, AUDIO / "weather.wav", 1)
        assert isinstance(outcome, Done)
        before = peak_resident_mb(pid)
        for job_id, (what, path) in enumerate(files.items(), start=2):
            worker, outcome = transcribe(backend, path, job_id)
            assert worker == pid, f"the worker was replaced on {what}"
            assert isinstance(outcome, Failed) and isinstance(outcome.error, BadInput), what
            assert "more than the configured maximum of 600 s" in str(outcome.error), what
        growth = peak_resident_mb(pid) - before
        assert growth < GROWTH_BOUND_MB, f"peak grew {growth:.0f} MB from {before:.0f} MB"
        worker, outcome = transcribe(backend, AUDIO / "numbers.wav", 99)
        assert worker == pid and isinstance(outcome, Done)
    finally:
        backend.close()
