"""Worker processes: they end with the process that started them, even one killed with -9,
and start without the daemon's baggage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A worker program that waits for ever (written next to the test, put on the path).
SLEEPER = """
import time
def main(channel):
    time.sleep(3600)
"""

# A stand-in daemon: starts a worker the way the daemon does, says its pid, waits.
DAEMON = """
import time
from dropscribe.workers.messages import Ready
from dropscribe.workers.spawn import Worker
worker = Worker("sleeper:main", what="test worker", ready=(Ready,))
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


def _path_with(folder: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT / 'src'}"}


def test_a_worker_ends_soon_after_its_daemon_is_killed(tmp_path: Path) -> None:
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON], stdout=subprocess.PIPE, text=True, env=_path_with(tmp_path)
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


def test_a_worker_told_of_a_daemon_that_is_not_its_parent_exits_at_once(tmp_path: Path) -> None:
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    done = subprocess.run(
        [sys.executable, "-m", "dropscribe.workers.child", "sleeper:main", "--parent", "1"],
        capture_output=True,
        timeout=60,
        env=_path_with(tmp_path),
    )
    assert done.returncode == 1


@pytest.mark.parametrize(
    "target",
    [
        "dropscribe.audio.compact:main",
        "dropscribe.backends.local.worker:main",
        "dropscribe.speakers.worker:main",
    ],
)
def test_every_worker_starts_without_the_settings_models_or_the_command_line(
    tmp_path: Path, target: str
) -> None:
    # A worker needs a few small rules of the config package (the bundled model's name,
    # the audio-track setting), not pydantic and every section: 0.3 s of CPU and 17 MB
    # more for each worker started (measured: bench notes of issue 21). The launcher is
    # what every worker runs, so what it imports is what a worker pays for.
    module = target.partition(":")[0]
    code = (
        f"import sys, dropscribe.workers.child, {module}\n"
        "print('pydantic' in sys.modules, 'dropscribe.commands' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=_path_with(tmp_path),
    )
    assert done.stdout.split() == ["False", "False"], (target, done.stderr)
