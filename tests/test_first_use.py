"""What a new user tripped on (issue 28), each tried as that user did: a real daemon."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config

SIDECARS = ("json", "txt", "srt", "vtt")


def sidecars_of(outbox: Path, stem: str) -> list[str]:
    return sorted(p.name for p in outbox.glob(f"{stem}.*"))


def test_two_copies_dropped_together_are_transcribed_once_and_both_get_sidecars(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=60)
        # Both renamed in at once, as `cp a.wav b.wav inbox/` does: one intake batch.
        for name in ("a.wav", "b.wav"):
            shutil.copy(AUDIO / "weather.wav", inbox / f"{name}.part")
        for name in ("a.wav", "b.wav"):
            (inbox / f"{name}.part").rename(inbox / name)
        wait_for(
            lambda: all(len(sidecars_of(outbox, s)) == len(SIDECARS) for s in "ab"),
            120,
            "both sets of sidecars",
        )
        wait_for(lambda: daemon.event("job_done", state="skipped"), 30, "the copy settled")
        assert daemon.stop() == 0
    submitted = [e for e in daemon.events() if e["event"] == "job_submitted"]
    assert len(submitted) == 1, submitted
    states = sorted(job["state"] for job in cli_json("jobs", config))
    assert states == ["done", "skipped"]
    texts = {json.loads((outbox / f"{s}.json").read_text())["transcription"] for s in "ab"}
    assert len(texts) == 1


def test_the_daemon_writes_nothing_into_its_users_home(workdir: Path) -> None:
    """onnxruntime (under the voice detector) wrote a device id and a database there."""
    home = workdir / "home"
    home.mkdir()
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    daemon = DaemonProcess(config, {"HOME": str(home), "ORT_DISABLE_TELEMETRY": "0"})
    daemon.env = {k: v for k, v in daemon.env.items() if not k.startswith("XDG_")}
    with daemon:
        daemon.wait_event("ready", timeout=60)
        shutil.copy(AUDIO / "weather.wav", inbox / "weather.wav")
        wait_for(lambda: len(sidecars_of(outbox, "weather")) == 4, 120, "the transcript")
        assert daemon.stop() == 0
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
