"""What operators use: the metrics endpoint, the hooks, SIGHUP reloads."""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import AUDIO, DaemonProcess, wait_for, write_config
from tests.test_daemon import finished, outcome_files

RECORDER = """
import json, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(sys.argv[2:]) + "\\n")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Return every sample of the endpoint, read with prometheus_client's own parser."""
    page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(page.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def test_metrics_count_jobs_by_state_durations_and_errors_and_only_grow(workdir: Path) -> None:
    port = free_port()
    config = write_config(workdir, {"service": {"metrics_port": port}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        (inbox / "good.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
        (inbox / "bad.wav").write_bytes(b"\x00garbage" * 500)
        wait_for(lambda: finished(outbox, "good") and finished(outbox, "bad"), 60, "outcomes")
        first = scrape(port)
        (inbox / "again.wav").write_bytes((AUDIO / "numbers.wav").read_bytes()[:-2000])
        wait_for(lambda: finished(outbox, "again"), 60, "the second transcript")
        second = scrape(port)
        missing = httpx.get(f"http://127.0.0.1:{port}/other", timeout=5)
        assert daemon.stop() == 0
    assert first["dropscribe_jobs{state=done}"] == 1
    assert first["dropscribe_jobs{state=failed}"] == 1
    assert first["dropscribe_jobs_finished_total{backend=local,state=done}"] == 1
    assert first["dropscribe_jobs_finished_total{backend=local,state=failed}"] == 1
    assert first["dropscribe_backend_errors_total{backend=local,kind=bad_input}"] == 1
    assert "dropscribe_retries_total{}" in first
    count = "dropscribe_job_duration_seconds_count{backend=local}"
    total = "dropscribe_job_duration_seconds_sum{backend=local}"
    assert (first[count], second[count]) == (1, 2)
    assert second[total] > first[total] > 0
    assert second["dropscribe_job_duration_seconds_bucket{backend=local,le=+Inf}"] == 2
    # Every counter and histogram sample only grows from one scrape to the next.
    for name, value in first.items():
        if name.split("{")[0].endswith(("_total", "_count", "_sum", "_bucket")):
            assert second[name] >= value, name
    assert missing.status_code == 404


def test_hooks_get_the_paths_as_arguments_never_through_a_shell(workdir: Path) -> None:
    recorder = workdir / "recorder.py"
    recorder.write_text(RECORDER)
    calls = workdir / "calls.jsonl"
    config = write_config(
        workdir,
        {
            "service": {
                "on_done": [sys.executable, str(recorder), str(calls), "done"],
                "on_failed": [sys.executable, str(recorder), str(calls), "failed"],
            }
        },
    )
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    tricky = "a; touch pwned $(id).wav"
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        (inbox / tricky).write_bytes((AUDIO / "numbers.wav").read_bytes())
        (inbox / "broken.mp3").write_bytes(b"")
        wait_for(
            lambda: calls.exists() and len(calls.read_text().splitlines()) == 2, 60, "both hooks"
        )
        assert daemon.stop() == 0
    recorded = {call[0]: call[1:] for call in map(json.loads, calls.read_text().splitlines())}
    assert recorded["done"][0] == str(workdir / "archive" / tricky)
    assert sorted(Path(p).name for p in recorded["done"][1:]) == sorted(
        f"a; touch pwned $(id).{ext}" for ext in ("json", "txt", "srt", "vtt")
    )
    assert recorded["failed"] == [
        str(workdir / "failed" / "broken.mp3"),
        str(outbox / "broken.error.json"),
    ]
    assert not list(workdir.rglob("pwned*"))


def test_sighup_applies_new_settings_and_names_what_needs_a_restart(workdir: Path) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        text = config.read_text().replace("[watch]", "[watch]\npoll_seconds = 3")
        config.write_text(
            text + '[transcribe]\nformats = ["json", "txt"]\n'
            if "[transcribe]" not in text
            else text.replace("[transcribe]", '[transcribe]\nformats = ["json", "txt"]')
        )
        daemon.signal(signal.SIGHUP)
        reloaded = daemon.wait_event("reloaded", timeout=10)
        assert reloaded["needs_restart"] == ["watch.poll_seconds"]
        assert reloaded["applied"] == ["transcribe.formats"]
        (inbox / "after.wav").write_bytes((AUDIO / "numbers.wav").read_bytes())
        wait_for(lambda: len(outcome_files(outbox, "after")) == 2, 60, "two sidecars")
        assert daemon.process is not None and daemon.process.poll() is None
        config.write_text("[watch]\nmode = 'sometimes'\n")
        daemon.signal(signal.SIGHUP)
        failed = daemon.wait_event("reload_failed", timeout=10)
        assert "watch.mode" in failed["problems"][0]
        assert daemon.stop() == 0
    assert outcome_files(outbox, "after") == ["after.json", "after.txt"]


def test_a_storm_of_signals_never_wedges_the_daemon(workdir: Path) -> None:
    # Signals land at any instruction of the main loop, also while it holds the lock of
    # the event it sleeps on (the watchdog makes it wake every 50 ms here). A handler
    # that took that lock deadlocked the daemon; now a thread of its own handles them.
    config = write_config(workdir)
    with DaemonProcess(config, env={"WATCHDOG_USEC": "100000"}) as daemon:
        daemon.wait_event("ready")
        for _ in range(1000):
            daemon.signal(signal.SIGHUP)
            time.sleep(0.001)
        daemon.wait_event("reloaded")
        assert daemon.stop(timeout=10) == 0
    assert daemon.event("stopped") is not None
