"""The systemd notify protocol, spoken to a real datagram socket."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dropscribe.service.notify import Notifier
from tests.helpers import AUDIO, DaemonProcess, wait_for, write_config


def listen(sock: socket.socket, messages: list[tuple[float, str]], done: threading.Event) -> None:
    """Append every datagram to ``messages`` with its arrival time until ``done``."""
    sock.settimeout(0.1)
    while not done.is_set():
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        messages.append((time.monotonic(), data.decode()))


def pings_after_ready(messages: list[tuple[float, str]]) -> int:
    texts = [text for _, text in messages]
    ready = next((i for i, text in enumerate(texts) if "READY=1" in text), None)
    return 0 if ready is None else texts[ready:].count("WATCHDOG=1")


def test_the_daemon_reports_ready_status_watchdog_and_stopping(
    workdir: Path, request: pytest.FixtureRequest
) -> None:
    address = str(workdir / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    request.addfinalizer(sock.close)
    config = write_config(workdir)
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "numbers.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
    # The watchdog limit is 1 s: pings are due every 0.5 s. Waiting for a count of pings
    # (not for a time) keeps the test independent of how long start-up takes.
    daemon = DaemonProcess(config, env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
    messages: list[tuple[float, str]] = []
    # Read all along, as systemd does: a socket left unread fills its queue (ten
    # datagrams) and the daemon's pings are then dropped, which is no fault of its own.
    listening = threading.Event()
    listener = threading.Thread(target=lambda: listen(sock, messages, listening), daemon=True)
    listener.start()

    def said(wanted: Callable[[str], bool]) -> bool:
        return any(wanted(text) for _, text in list(messages))

    with daemon:
        wait_for(lambda: pings_after_ready(list(messages)) >= 8, 60, "eight watchdog pings")
        daemon.wait_event("ready")
        daemon.wait_event("job_done")
        # The status line is renewed every 2 s: wait for one that counts the file done.
        wait_for(lambda: said(lambda t: "done 1" in t), 30, "a status line with the file done")
        assert daemon.stop() == 0
    wait_for(lambda: said(lambda t: "STOPPING=1" in t), 10, "STOPPING=1")
    listening.set()
    listener.join(timeout=5)
    texts = [text for _, text in messages]
    ready = next(i for i, text in enumerate(texts) if "READY=1" in text)
    # READY comes only after the store and the watcher are up.
    assert "job_queued" in [e["event"] for e in daemon.events()]
    assert "STATUS=waiting" in texts[ready] and "MAINPID=" in texts[ready]
    assert all("WATCHDOG=1" not in text for text in texts[:ready])
    pings = [t for t, text in messages if text == "WATCHDOG=1"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    # Half of WATCHDOG_USEC is 0.5 s; a gap reaching the 1 s limit would get the daemon
    # killed by systemd.
    assert len(pings) >= 8
    assert max(gaps) < 1.0
    assert any(text.startswith("STATUS=waiting") and "done" in text for text in texts[ready + 1 :])
    assert "STOPPING=1" in texts[-1] or any("STOPPING=1" in t for t in texts[-2:])


def test_abstract_sockets_are_supported() -> None:
    name = f"dropscribe-test-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    notifier = Notifier(address="@" + name, watchdog_usec="1000000")
    assert notifier.watchdog_interval == 0.5
    notifier.ready("starting")
    try:
        assert sock.recv(4096).decode().startswith("READY=1\nSTATUS=starting")
    finally:
        sock.close()
        notifier.close()


def test_outside_systemd_notifying_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    notifier = Notifier()
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.send("READY=1") is False


def test_a_reader_that_stopped_reading_never_stalls_the_daemon(workdir: Path) -> None:
    address = str(workdir / "full.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    notifier = Notifier(address=address, watchdog_usec="1000000")
    sent: list[bool] = []

    # Nobody reads: the socket's queue fills after a few datagrams. Each send must
    # come back (as False) rather than wait for a reader.
    def ping_often() -> None:
        sent.extend(notifier.send("WATCHDOG=1") for _ in range(200))

    pinging = threading.Thread(target=ping_often)
    pinging.start()
    pinging.join(timeout=30)
    try:
        assert not pinging.is_alive()
        assert sent[0] and not sent[-1]
    finally:
        notifier.close()
        sock.close()
