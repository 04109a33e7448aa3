"""What the benchmarks share: corpora, a daemon in a subprocess, resource readings."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
#: Real recordings for the benchmarks, beside the repository (DROPSCRIBE_SHARED_AUDIO elsewhere).
SHARED_AUDIO = Path(os.environ.get("DROPSCRIBE_SHARED_AUDIO", REPO.parent / "shared" / "audio"))
#: The project's own speech fixtures: what the benchmarks use where the shared recordings
#: are absent (a CI checkout), so that every smoke form runs on any clone.
FIXTURE_AUDIO = REPO / "tests" / "fixtures" / "audio"
HAVE_SHARED_AUDIO = SHARED_AUDIO.is_dir()
#: English real recordings (the French and Chinese ones test wrong-language input).
ENGLISH_CLIPS = (
    [
        *sorted(p.name for p in (SHARED_AUDIO / "librivox").glob("*.wav")),
        "jfk.wav",
        "jfk.mp3",
        "vosk_test.wav",
        "speechrecognition_english.wav",
        "goforward.wav",
    ]
    if HAVE_SHARED_AUDIO
    else ["weather.wav", "fox.wav", "numbers.wav"]
)


def clip_path(name: str) -> Path:
    if not HAVE_SHARED_AUDIO:
        return FIXTURE_AUDIO / name
    librivox = SHARED_AUDIO / "librivox" / name
    return librivox if librivox.exists() else SHARED_AUDIO / name


def reference_text(name: str) -> str | None:
    """The reference of a shared clip, lower case without punctuation, when there is one."""
    known = {
        "jfk": "and so my fellow americans ask not what your country can do for you "
        "ask what you can do for your country",
        "speechrecognition_english": "one two three",
        "goforward": "go forward ten meters",
    }
    stem = Path(name).stem
    text = clip_path(name).with_suffix(".txt")
    if text.exists():
        return text.read_text()
    return known.get(stem)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return f"{os.cpu_count()} cores ({cpu}), Python {python}, {platform.system()}"


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def write_config(directory: Path, text: str) -> Path:
    path = directory / "bench.toml"
    path.write_text(text)
    return path


class Daemon:
    """``dropscribe run`` in a subprocess, its log in a file."""

    def __init__(self, config: Path, log_name: str = "daemon.log") -> None:
        self.log = config.parent / log_name
        with self.log.open("wb") as stream:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dropscribe", "run", "--config", str(config)],
                stdout=stream,
                stderr=subprocess.STDOUT,
                cwd=config.parent,
            )
        self.started = time.perf_counter()

    def wait_log(self, needle: str, timeout: float, count: int = 1) -> float:
        """Wait until ``needle`` appears ``count`` times in the log; return the elapsed time.

        Reads only what was added since the last look, whole lines at a time: reading
        the whole log every 10 ms took a large share of a core away from the daemon
        once the log held thousands of lines.
        """
        deadline = time.monotonic() + timeout
        seen, offset = 0, 0
        with self.log.open("rb") as stream:
            while time.monotonic() < deadline:
                stream.seek(offset)
                added = stream.read()
                complete = added[: added.rfind(b"\n") + 1]
                offset += len(complete)
                seen += complete.decode(errors="replace").count(needle)
                if seen >= count:
                    return time.perf_counter() - self.started
                if self.process.poll() is not None:
                    raise RuntimeError(f"the daemon exited:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.01)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise TimeoutError(f"{needle!r} x{count} not seen in {timeout} s; the log ends:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def report(title: str, rows: dict[str, Any]) -> None:
    print(f"\n## {title}\n")
    for key, value in rows.items():
        print(f"- {key}: {value}")
    sys.stdout.flush()
