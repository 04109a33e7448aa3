"""Streamed preparation: chunks leave while the rest of the recording is prepared, and a
kill -9 in the middle of it never sends a chunk again that the server accepted.

A real daemon subprocess, a real worker, a fake OctoAI server on 127.0.0.1 that
counts what it is sent; the recording is the project's 31 s reading forty times
over (20 minutes), made with sox, so that its preparation takes a while.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
from pathlib import Path

import pytest

from dropscribe.jobs.store import Store
from tests.helpers import AUDIO, DaemonProcess, wait_for
from tests.remote_setup import COMPACT_ALL, TOKEN, remote_config
from tests.servers import OctoAIServer
from tests.test_daemon import finished

READING = AUDIO / "long_reading.flac"
REPEATS = 40


def long_recording(directory: Path) -> Path:
    target = directory / "meeting.flac"
    subprocess.run(["sox", *[str(READING)] * REPEATS, str(target)], check=True)
    return target


def stored(workdir: Path) -> list[tuple[str, str, str]]:
    """Each saved chunk's plan name, state and the SHA-256 of its file, in order."""
    store = Store(workdir / "state" / "dropscribe.sqlite3", readonly=True)
    try:
        chunks = store.chunks.for_job(1)
    finally:
        store.close()
    folder = workdir / "state" / "uploads" / "job-1"
    return [
        (c.plan, c.state, hashlib.sha256((folder / c.path).read_bytes()).hexdigest())
        for c in chunks
    ]


def test_chunks_are_the_same_on_one_encoder_thread_or_three_and_announced_in_order(
    tmp_path: Path,
) -> None:
    from dropscribe.audio.compact import compact
    from dropscribe.audio.compact_protocol import CompactRequest, PartFile

    made: dict[int, tuple[list[PartFile], tuple[PartFile, ...]]] = {}
    for encoders in (1, 3):
        heard: list[PartFile] = []
        request = CompactRequest(
            source=str(READING),
            workdir=str(tmp_path / str(encoders)),
            format="opus",
            max_bytes=10**8,
            max_seconds=10,
            max_duration=3600,
            concurrency=4,
            encoders=encoders,
        )
        manifest = compact(request, heard.append)
        made[encoders] = (heard, manifest.parts)
    (one, parts_one), (three, parts_three) = made[1], made[3]
    assert len(one) >= 4 and one == three  # same cuts, same bytes, same names
    assert tuple(one) == parts_one == parts_three  # announced = manifest
    assert [p.start for p in one] == sorted(p.start for p in one)  # in order
    for earlier, later in itertools.pairwise(one):
        assert later.keep_start == earlier.keep_end  # they meet


def events(daemon: DaemonProcess, name: str) -> list[dict[str, object]]:
    return [e for e in daemon.events() if e.get("event") == name]


@pytest.mark.timeout(300)
def test_chunks_leave_before_the_preparation_ends(workdir: Path) -> None:
    with OctoAIServer() as server:
        server.token = TOKEN
        config = remote_config(
            workdir, "octoai", server.url, max_chunk_seconds=60, concurrency=2, **COMPACT_ALL
        )
        (workdir / "inbox").mkdir()
        long_recording(workdir / "inbox")
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(workdir / "outbox", "meeting"), 300, "the transcript")
            assert daemon.stop() == 0
        log = [e["event"] for e in daemon.events()]
    assert log.index("chunk_submitted") < log.index("upload_prepared")
    document = json.loads((workdir / "outbox" / "meeting.json").read_text())
    assert document["duration"] == pytest.approx(REPEATS * 30.74, abs=REPEATS * 0.1)
    assert document["engine"]["upload"]["chunks"] == len(server.submissions) > 10


@pytest.mark.timeout(300)
def test_a_kill_9_during_streamed_preparation_resends_no_chunk_the_server_accepted(
    workdir: Path,
) -> None:
    # Chunks stay "pending" on the server, so two fill the two slots and no third
    # can be in flight when the daemon dies: the server has accepted exactly two.
    with OctoAIServer() as server:
        server.token = TOKEN
        server.pending_polls = 10**6
        config = remote_config(
            workdir,
            "octoai",
            server.url,
            max_chunk_seconds=60,
            concurrency=2,
            poll_initial_seconds=0.05,
            poll_max_seconds=0.1,
            **COMPACT_ALL,
        )
        (workdir / "inbox").mkdir()
        long_recording(workdir / "inbox")
        with DaemonProcess(config) as daemon:
            wait_for(lambda: len(events(daemon, "chunk_submitted")) >= 2, 120, "2 chunks sent")
            daemon.kill()
        accepted = [job.audio_sha256 for job in server.submissions]
        before = stored(workdir)
        # Killed while preparing: the plan is unfinished, two chunks in flight.
        assert len(accepted) == 2 and all(plan.startswith("unfinished:") for plan, _, _ in before)
        assert [state for _, state, _ in before].count("running") == 2
        assert {sha for _, state, sha in before if state == "running"} == set(accepted)
        server.pending_polls = 1
        with server.lock:  # the two in flight finish now
            for job in server.jobs.values():
                job.polls_left = 1
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(workdir / "outbox", "meeting"), 300, "the transcript")
            again = [e["chunk"] for e in events(daemon, "chunk_prepared")]
            assert daemon.stop() == 0
    sent = [job.audio_sha256 for job in server.submissions]
    for digest in accepted:
        assert sent.count(digest) == 1  # polled after the restart, never sent again
    assert len(sent) == len(set(sent))  # and no other chunk went twice either
    # The preparation went on after the chunks saved before the kill.
    assert again and min(again) == len(before)  # type: ignore[type-var]
    assert not (workdir / "state" / "uploads" / "job-1").exists()  # forgotten once saved
    document = json.loads((workdir / "outbox" / "meeting.json").read_text())
    assert document["engine"]["upload"]["chunks"] == len(sent)
    assert document["duration"] == pytest.approx(REPEATS * 30.74, abs=REPEATS * 0.1)
