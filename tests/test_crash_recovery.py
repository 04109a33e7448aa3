"""kill -9 at any moment loses nothing: every file ends with exactly one outcome."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.test_daemon import SIDECARS, drop, finished, outcome_files


def test_sigkill_mid_batch_then_restart_gives_every_file_exactly_one_outcome(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    good = {}
    for n in range(6):
        source = ["weather.wav", "numbers.wav", "weather.mp3", "fox.wav"][n % 4]
        name = f"talk{n}{Path(source).suffix}"
        # Different bytes per file, so no file is a duplicate of another.
        content = (AUDIO / source).read_bytes()
        (inbox / name).write_bytes(content if n < 4 else content + bytes(n * 320))
        good[Path(name).stem] = name
    (inbox / "junk.wav").write_bytes(os.urandom(30_000))
    (inbox / "nothing.mp3").write_bytes(b"")
    stems = [*good, "junk", "nothing"]

    # Kill the daemon three times at different points of its work.
    for number, kill_after in enumerate(("job_submitted", "job_done", "job_queued")):
        with DaemonProcess(config) as daemon:
            daemon.wait_event(kill_after, timeout=60)
            daemon.kill()
        # A file arriving while the daemon is down, unlike any other (not a duplicate).
        late = workdir / f"late-{kill_after}.wav"
        late.write_bytes((AUDIO / "numbers.wav").read_bytes() + bytes(7 + number))
        drop(late, inbox)
        stems.append(f"late-{kill_after}")
    with DaemonProcess(config) as daemon:
        wait_for(lambda: all(finished(outbox, s) for s in stems), 180, "every outcome")
        assert daemon.stop() == 0

    for stem in stems:
        found = outcome_files(outbox, stem)
        if stem in ("junk", "nothing"):
            assert found == [f"{stem}.error.json"], stem
        else:
            assert found == sorted(f"{stem}.{e}" for e in SIDECARS), stem
            json.loads((outbox / f"{stem}.json").read_text())
    leftovers = [p.name for p in outbox.rglob("*") if p.name.startswith(".dropscribe-")]
    assert leftovers == []
    assert sorted(p.name for p in inbox.iterdir()) == []
    archived = sorted(p.name for p in (workdir / "archive").iterdir())
    assert archived == sorted(
        [*good.values(), *(f"late-{k}.wav" for k in ("job_submitted", "job_done", "job_queued"))]
    )
    jobs = cli_json("jobs", config)
    assert sorted(job["path"] for job in jobs) == sorted(
        [
            *good.values(),
            "junk.wav",
            "nothing.mp3",
            *(f"late-{k}.wav" for k in ("job_submitted", "job_done", "job_queued")),
        ]
    )
    assert {job["state"] for job in jobs} == {"done", "failed"}
