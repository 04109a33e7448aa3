"""kill -9 at any moment loses nothing: every file ends with exactly one outcome, and the
store, the outbox, the archive and the failed folder agree on it file by file."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.test_daemon import SIDECARS, finished, outcome_files


def write(inbox: Path, name: str, content: bytes) -> None:
    temporary = inbox / f"{name}.part"
    temporary.write_bytes(content)
    temporary.rename(inbox / name)


def assert_everything_agrees(workdir: Path, config: Path, files: set[str]) -> None:
    """Each file has one job, and its state is what the folders show."""
    outbox, failed, archive = workdir / "outbox", workdir / "failed", workdir / "archive"
    jobs = cli_json("jobs", config)
    assert sorted(job["path"] for job in jobs) == sorted(files)  # one job per file
    for job in jobs:
        name, state = job["path"], job["state"]
        stem = Path(name).stem
        found = outcome_files(outbox, stem)
        assert not os.path.lexists(workdir / "inbox" / name), name
        if state in ("done", "skipped"):
            assert found == sorted(f"{stem}.{e}" for e in SIDECARS), (name, state, found)
            json.loads((outbox / f"{stem}.json").read_text())
            assert (archive / name).exists() and not os.path.lexists(failed / name), name
        else:
            assert state == "failed" and found == [f"{stem}.error.json"], (name, state, found)
            assert os.path.lexists(failed / name) and not (archive / name).exists(), name
    counts = cli_json("status", config)["counts"]
    assert {s: n for s, n in counts.items() if n} == dict(Counter(job["state"] for job in jobs))


def test_sigkill_mid_batch_then_restart_gives_every_file_exactly_one_outcome(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    contents: dict[str, bytes] = {}
    for n in range(6):
        source = ["weather.wav", "numbers.wav", "weather.mp3", "fox.wav"][n % 4]
        name = f"talk{n}{Path(source).suffix}"
        # Different bytes per file, so no file is a duplicate of another.
        content = (AUDIO / source).read_bytes()
        contents[name] = content if n < 4 else content + bytes(n * 320)
        (inbox / name).write_bytes(contents[name])
    (inbox / "junk.wav").write_bytes(os.urandom(30_000))
    (inbox / "nothing.mp3").write_bytes(b"")
    files = {*contents, "junk.wav", "nothing.mp3"}
    outside = workdir / "outside.wav"
    outside.write_bytes((AUDIO / "numbers.wav").read_bytes())

    # Kill the daemon at different points of its work; files arrive while it is down.
    for number, kill_after in enumerate(("job_submitted", "job_done", "job_queued")):
        with DaemonProcess(config) as daemon:
            daemon.wait_event(kill_after, timeout=60)
            daemon.kill()
        late = f"late-{kill_after}.wav"
        write(inbox, late, (AUDIO / "numbers.wav").read_bytes() + bytes(7 + number))
        files.add(late)
    # Then at intake's own moments: a duplicate reused, a bad file refused.
    done = [job["path"] for job in cli_json("jobs", config) if job["state"] == "done"]
    for number, kill_after in enumerate(("duplicate_reused", "job_failed")):
        write(inbox, f"copy{number}-{done[0]}", contents[done[0]])
        write(inbox, f"empty{number}.wav", b"")
        (inbox / f"link{number}.wav").symlink_to(outside)
        files |= {f"copy{number}-{done[0]}", f"empty{number}.wav", f"link{number}.wav"}
        with DaemonProcess(config) as daemon:
            daemon.wait_event(kill_after, timeout=60)
            daemon.kill()
    with DaemonProcess(config) as daemon:
        stems = [Path(name).stem for name in files]
        wait_for(lambda: all(finished(outbox, s) for s in stems), 180, "every outcome")
        assert daemon.stop() == 0

    assert_everything_agrees(workdir, config, files)
    for stem in ("junk", "nothing", "empty0", "empty1", "link0", "link1"):
        assert outcome_files(outbox, stem) == [f"{stem}.error.json"], stem
    leftovers = [p.name for p in outbox.rglob("*") if p.name.startswith(".dropscribe-")]
    assert leftovers == []
    assert sorted(p.name for p in inbox.iterdir()) == []
    assert outside.exists()
