"""Shared test helpers: configs, word error rate, a daemon in a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jiwer

if TYPE_CHECKING:
    from dropscribe.backends.local.protocol import EngineOptions

AUDIO = Path(__file__).parent / "fixtures" / "audio"


def reference(name: str) -> str:
    return (AUDIO / f"{name}.txt").read_text()


def word_error_rate(expected: str, actual: str) -> float:
    def words(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())

    return float(jiwer.wer(words(expected), words(actual)))


def toml_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def write_config(directory: Path, sections: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write a config with test-friendly defaults; ``sections`` override them key by key."""
    base: dict[str, dict[str, Any]] = {
        "watch": {"settle_seconds": 0.3, "rescan_seconds": 30},
        "transcribe": {"retry_base_seconds": 0.2, "retry_max_seconds": 1.0},
        "backends.local": {"cpu_threads": 2},
        "log": {"format": "json", "level": "debug"},
    }
    for section, values in (sections or {}).items():
        base.setdefault(section, {}).update(values)
    lines = []
    for section, values in base.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
    path = directory / "dropscribe.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_json(command: str, config: Path) -> Any:
    """Run ``dropscribe COMMAND --json`` as a user would and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "dropscribe", command, "--json", "--config", str(config)],
        capture_output=True,
        check=True,
    )
    return json.loads(result.stdout)


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class DaemonProcess:
    """``dropscribe run`` in a real subprocess, its JSON log lines collected in a file."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
        }
        self.env = {**inherited, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        #: A command the daemon runs under, such as setpriv to drop capabilities.
        self.prefix: list[str] = []

    def start(self) -> DaemonProcess:
        stream = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "dropscribe", "run", "--config", str(self.config)],
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        stream.close()
        return self

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def event(self, name: str, **fields: Any) -> dict[str, Any] | None:
        for event in self.events():
            if event.get("event") == name and all(event.get(k) == v for k, v in fields.items()):
                return event
        return None

    def wait_event(self, name: str, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            lambda: self.event(name, **fields),
            timeout,
            f"log event {name} {fields}\n" + self.log_path.read_text(errors="replace")[-3000:],
        )
        return found

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def wait(self, timeout: float) -> int:
        """Wait for the daemon to exit by itself; return its exit code."""
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def tiny_engine_options(**overrides: Any) -> EngineOptions:
    """The bundled tiny.en on the CPU as the engine tests run it; ``overrides`` change
    the keys a test is about (threads, decodes, the decoding path)."""
    from dropscribe.backends.local.model import resolve_model
    from dropscribe.backends.local.protocol import EngineOptions

    fields: dict[str, Any] = {
        "model_load": resolve_model("tiny.en").load,
        "model_name": "tiny.en",
        "device": "cpu",
        "compute_type": "default",
        "cpu_threads": 1,
        "parallel_decodes": 1,
        "workers": 1,
        "beam_size": 5,
        "vad_filter": False,
        "word_timestamps": True,
        "initial_prompt": None,
        "batched": "off",
        "batch_size": 8,
    }
    return EngineOptions(**{**fields, **overrides})
