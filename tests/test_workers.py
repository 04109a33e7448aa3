"""Worker processes end with the process that started them, even one killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dropscribe import workers

ROOT = Path(__file__).resolve().parent.parent

# A stand-in daemon: starts a worker the way the daemon does, says its pid, waits.
DAEMON = """
import time
from dropscribe import workers
worker = workers.start(time.sleep, (3600,), name="dropscribe-test-worker")
print(worker.pid, flush=True)
time.sleep(3600)
"""


def _alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_worker_ends_soon_after_its_daemon_is_killed() -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        assert daemon.stdout is not None
        worker = int(daemon.stdout.readline())
        assert _alive(worker)
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        daemon.kill()
        daemon.wait()
        if daemon.stdout is not None:
            daemon.stdout.close()


def test_a_worker_program_told_of_a_daemon_that_is_not_its_parent_exits_at_once() -> None:
    code = "from dropscribe import workers; workers.die_with_the_daemon(); print('ran on')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, workers.PARENT_VARIABLE: "1", "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 1 and "ran on" not in done.stdout


def test_the_engine_and_compaction_workers_start_without_the_settings_models() -> None:
    # A worker needs a few small rules of the config package (the bundled model's name,
    # the audio-track setting), not pydantic and every section: 0.3 s of CPU and 17 MB
    # more for each worker started (measured: bench notes of issue 21).
    for module in ("dropscribe.audio.compact", "dropscribe.backends.local.worker"):
        code = f"import sys, {module}; print('pydantic' in sys.modules)"
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert done.stdout.strip() == "False", (module, done.stderr)
