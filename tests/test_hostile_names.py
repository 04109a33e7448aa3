"""Names a Samba share, scp or an old zip can produce, in a running daemon and after a restart."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from dropscribe.outbox.naming import display_path, sidecar_stem
from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for, write_config
from tests.test_daemon import SIDECARS, finished, outcome_files
from tests.test_intake import HOSTILE

NESTED = [folder[:-4] + b"/inside.wav" for folder in HOSTILE]


def drop_bytes(inbox: Path, relative: bytes, content: bytes) -> None:
    """Write under a temporary name, then rename, as uploaders do; names given as bytes."""
    target = os.path.join(os.fsencode(inbox), relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = os.path.join(os.path.dirname(target), b".upload.part")  # any name may be 255 long
    with open(temporary, "wb") as stream:
        stream.write(content)
    os.rename(temporary, target)


def outcome(outbox: Path, relative: bytes) -> list[str]:
    stem = sidecar_stem(os.fsdecode(relative))
    folder, _, name = stem.rpartition("/")
    return outcome_files(outbox / folder, name)


def test_hostile_names_never_stop_the_daemon_and_each_file_gets_one_outcome(
    workdir: Path,
) -> None:
    config = write_config(workdir, {"paths": {"originals": "keep"}})
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    audio = (AUDIO / "numbers.wav").read_bytes()
    everything = [*HOSTILE, *NESTED]
    contents = {name: audio + bytes(2 * number) for number, name in enumerate(everything)}

    def done(names: list[bytes]) -> bool:
        return all(finished(*_folder_and_stem(outbox, n)) for n in names)

    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        for name in HOSTILE:
            drop_bytes(inbox, name, contents[name])
        wait_for(lambda: done(HOSTILE), 120, "the names dropped while running")
        assert daemon.stop() == 0
    for name in NESTED:  # dropped while it is down: found by the scan at start
        drop_bytes(inbox, name, contents[name])
    # Restarted with every name still in the inbox (originals are kept).
    with DaemonProcess(config) as daemon:
        wait_for(lambda: done(NESTED), 120, "the names found at start")
        daemon.wait_event("scanned", timeout=10)
        assert daemon.process is not None and daemon.process.poll() is None
        daemon.signal(signal.SIGHUP)  # alive and answering
        daemon.wait_event("reloaded", timeout=10)
        assert daemon.stop() == 0
    for name in everything:
        found = outcome(outbox, name)
        assert len(found) == len(SIDECARS), (name, found)
        stem = sidecar_stem(os.fsdecode(name))
        document = json.loads((outbox / f"{stem}.json").read_text())
        assert document["source"]["path"] == display_path(os.fsdecode(name))
    jobs = cli_json("jobs", config)
    assert sorted(job["path"] for job in jobs) == sorted(
        display_path(os.fsdecode(n)) for n in everything
    )
    assert {job["state"] for job in jobs} == {"done"}  # once each: the restart redid nothing
    assert cli_json("status", config)["counts"]["done"] == len(everything)


def _folder_and_stem(outbox: Path, relative: bytes) -> tuple[Path, str]:
    folder, _, name = sidecar_stem(os.fsdecode(relative)).rpartition("/")
    return outbox / folder, name


def _children(pid: int) -> str:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().strip()


def test_sigterm_right_after_start_is_a_clean_exit_0(workdir: Path) -> None:
    config = write_config(workdir)
    (workdir / "inbox").mkdir()
    with DaemonProcess(config) as daemon:
        assert daemon.process is not None
        pid = daemon.process.pid
        # The engine's worker is the first thing `run` starts, long before the store,
        # the watcher and the scan: a SIGTERM now is one during start-up.
        deadline = time.monotonic() + 30
        while not _children(pid) and time.monotonic() < deadline:
            time.sleep(0.002)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
