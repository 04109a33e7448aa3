"""Flaky servers cannot fail a file: 429s, 5xx and resets do not use up its attempts.

The real fake servers of tests/servers.py, with one request in ten answered by
a 500, a 429 or a dropped connection, and files allowed a single attempt: only
what the file itself causes may spend it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.remote_setup import FAST_POLLS, SERVERS, TOKEN, backend_section
from tests.servers import FakeServer, Fault
from tests.test_daemon import SIDECARS, finished, outcome_files

FAULTS = [
    Fault(500, b'{"error": "internal error"}'),
    Fault(503, b'{"error": "overloaded"}'),
    Fault(429, b'{"error": "rate limited"}', {"Retry-After": "0"}),
    Fault(drop=True),
]


class RandomFaults(dict[str, "_Draw"]):
    """Stands in for a server's scripted faults: each request meets one with ``rate``."""

    def __init__(self, rate: float, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.rate = rate
        self.injected: list[Fault] = []

    def __missing__(self, route: str) -> _Draw:
        draw = self[route] = _Draw(self)
        return draw


class _Draw:
    def __init__(self, faults: RandomFaults) -> None:
        self.faults = faults

    def __bool__(self) -> bool:
        return self.faults.rng.random() < self.faults.rate

    def popleft(self) -> Fault:
        fault = self.faults.rng.choice(FAULTS)
        self.faults.injected.append(fault)
        return fault


def flaky(server: FakeServer, rate: float, seed: int) -> RandomFaults:
    faults = RandomFaults(rate, seed)
    server.faults = faults  # type: ignore[assignment]
    return faults


@pytest.mark.parametrize(
    ("name", "upload_format"),
    # Compact chunks (the default) and the file as it is take different paths.
    [("octoai", "auto"), ("openai", "auto"), ("openai", "original")],
)
def test_ten_percent_server_faults_fail_no_file(
    workdir: Path, name: str, upload_format: str
) -> None:
    server = SERVERS[name]()
    server.token = TOKEN
    faults = flaky(server, rate=0.1, seed=7)
    count = 12
    with server:
        config = write_config(
            workdir,
            {
                "transcribe": {"backend": name, "max_attempts": 1, "retry_base_seconds": 0.05},
                f"backends.{name}": {
                    **FAST_POLLS,
                    **backend_section(name, server.url),
                    "upload_format": upload_format,
                },
            },
        )
        inbox, outbox = workdir / "inbox", workdir / "outbox"
        inbox.mkdir()
        audio = (AUDIO / "numbers.wav").read_bytes()
        for n in range(count):
            (inbox / f"call{n}.wav").write_bytes(audio + bytes(n))
        with DaemonProcess(config) as daemon:
            wait_for(
                lambda: all(finished(outbox, f"call{n}") for n in range(count)),
                90,
                "every outcome",
            )
            assert daemon.stop() == 0
    assert faults.injected, "the faults were injected"
    for n in range(count):
        assert outcome_files(outbox, f"call{n}") == sorted(f"call{n}.{e}" for e in SIDECARS)
    listed = cli_json("jobs", config)
    assert {job["state"] for job in listed} == {"done"}
    assert {job["attempts"] for job in listed} == {1}
