"""The coverage pass on files uploaded as they are (issue 25): no compaction, same pass.

A file under ``compact_above_bytes`` (or with ``upload_format = "original"``) goes to
the server as it is, so no worker has heard its speech. The real daemon against the
real fake servers of tests/servers.py (words over the loud audio, ``follow_speech``;
a stretch left out, ``skips``): where the words leave a gap, the worker hears the file
then and the stretch goes again; where they leave none, no worker is started.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dropscribe.commands.oneshot import transcribe_files
from dropscribe.config import RemoteSettings, load_settings
from tests.helpers import AUDIO, DaemonProcess, cli_json, wait_for
from tests.remote_setup import remote_config
from tests.servers import FakeServer, RemoteJob
from tests.test_daemon import finished
from tests.test_remote_coverage import (
    assert_clip_has_its_words,
    assert_spliced_cleanly,
    assert_warning_names_the_clip,
    events,
    first_upload_skips,
    in_span,
    joined_recording,
    running_chunks,
    speech_server,
    words_of,
)


def as_is_config(workdir: Path, name: str, server: FakeServer, **extra: Any) -> Path:
    """The defaults but for the coverage pass (on): small files go as they are."""
    return remote_config(workdir, name, server.url, recover_speech=True, **extra)


def test_speech_a_server_skipped_in_a_small_wav_sent_as_it_is_gets_its_words_back(
    workdir: Path,
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    sent_as_it_is = hashlib.sha256((inbox / "joined.wav").read_bytes()).hexdigest()
    with speech_server("octoai", first_upload_skips(where[1])) as server:
        config = as_is_config(workdir, "octoai", server)
        section = load_settings(config).backend_settings("octoai")
        assert isinstance(section, RemoteSettings)
        assert (inbox / "joined.wav").stat().st_size < section.compact_above_bytes
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            heard, recovered = events(daemon, "speech_heard"), events(daemon, "speech_recovered")
            assert daemon.stop() == 0
    whole, again = server.submissions  # the WAV as it is, then the stretch it skipped
    assert whole.audio_sha256 == sent_as_it_is
    assert again.audio_seconds is not None
    clip = where[1][1] - where[1][0]
    assert clip < again.audio_seconds < clip + 2.5  # the stretch and its margins
    document = assert_spliced_cleanly(outbox, "joined")
    assert_clip_has_its_words(document, where[1])
    assert len(heard) == 1 and recovered[0]["recovered_words"] > 0
    assert recovered[0]["still_missing"] == []


def test_upload_format_original_gets_the_pass_with_its_stretch_sent_compact(
    workdir: Path,
) -> None:
    """Even a large file sent as it is: the stretch goes in the backend's compact format."""
    where = joined_recording(workdir / "joined.wav")
    with speech_server("openai", first_upload_skips(where[1])) as server:
        config = as_is_config(workdir, "openai", server, upload_format="original")
        (workdir / "inbox").mkdir()
        (workdir / "joined.wav").rename(workdir / "inbox" / "joined.wav")
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(workdir / "outbox", "joined"), 60, "the transcript")
            assert daemon.stop() == 0
    whole, again = server.submissions
    assert whole.audio_bytes > again.audio_bytes * 5  # the WAV, then a compact stretch
    document = assert_spliced_cleanly(workdir / "outbox", "joined")
    assert_clip_has_its_words(document, where[1])


def test_a_file_whose_words_leave_no_gap_starts_no_worker(workdir: Path) -> None:
    """fox.wav's words leave no second without a word: no worker is started. The worker
    could not run here (a 1 MB address space); any try would be logged, as the next
    test shows for a file with a gap."""
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    (inbox / "fox.wav").write_bytes((AUDIO / "fox.wav").read_bytes())
    with speech_server("runpod", lambda job, start, end: False) as server:
        config = as_is_config(workdir, "runpod", server, prepare_memory_mb=1)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "fox"), 60, "the transcript")
            tried = events(daemon, "speech_heard") + events(daemon, "speech_not_heard")
            assert daemon.stop() == 0
    assert tried == []
    assert len(server.submissions) == 1
    document = json.loads((outbox / "fox.json").read_text())
    assert words_of(document) and document["warnings"] == []


def test_a_worker_that_cannot_hear_the_file_costs_the_pass_not_the_words(
    workdir: Path,
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    with speech_server("runpod", first_upload_skips(where[1])) as server:
        config = as_is_config(workdir, "runpod", server, prepare_memory_mb=1)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            refused = events(daemon, "speech_not_heard")
            assert daemon.stop() == 0
    assert len(refused) == 1 and len(server.submissions) == 1
    assert not (outbox / "joined.error.json").exists()
    document = json.loads((outbox / "joined.json").read_text())
    assert in_span(words_of(document), where[0]) and in_span(words_of(document), where[2])


def test_speech_still_without_words_in_a_file_sent_as_it_is_gets_the_warning(
    workdir: Path,
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    skipped = first_upload_skips(where[1])

    def skips(job: RemoteJob, start: float, end: float) -> bool:
        # The re-sent stretch (the second upload) comes back without words as well.
        return skipped(job, start, end) or job is not server.submissions[0]

    with speech_server("replicate", skips) as server:
        config = as_is_config(workdir, "replicate", server)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            logged = events(daemon, "transcript_warning")
            assert daemon.stop() == 0
        status = cli_json("status", config)
    assert len(server.submissions) == 2
    assert_warning_names_the_clip(outbox, where, logged, status)


def test_kill_9_while_the_stretch_of_a_file_sent_as_it_is_is_in_flight_sends_nothing_twice(
    workdir: Path,
) -> None:
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    where = joined_recording(inbox / "joined.wav")
    with speech_server("runpod", first_upload_skips(where[1]), pending_polls=10**6) as server:
        config = as_is_config(workdir, "runpod", server)
        with DaemonProcess(config) as daemon:
            wait_for(lambda: len(server.submissions) == 1, 60, "the file sent as it is")
            server.submissions[0].polls_left = 0
            wait_for(lambda: len(server.submissions) == 2, 60, "the coverage chunk sent")
            wait_for(lambda: running_chunks(workdir) == [1], 30, "its future saved")
            daemon.kill()
        server.submissions[1].polls_left = 1
        with DaemonProcess(config) as daemon:
            wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
            heard = events(daemon, "speech_heard")
            assert daemon.stop() == 0
    hashes = [job.audio_sha256 for job in server.submissions]
    assert len(hashes) == 2 and len(set(hashes)) == 2  # both polled after the restart
    assert heard == []  # the speech heard before the kill is kept, not heard again
    document = assert_spliced_cleanly(outbox, "joined")
    assert_clip_has_its_words(document, where[1])


def test_dropscribe_transcribe_sends_a_small_file_as_it_is_and_gets_the_same_pass(
    workdir: Path,
) -> None:
    where = joined_recording(workdir / "joined.wav")
    with speech_server("octoai", first_upload_skips(where[1])) as server:
        config = as_is_config(workdir, "octoai", server)
        code = transcribe_files(load_settings(config), [workdir / "joined.wav"], workdir / "out")
    assert code == 0
    whole, _stretch = server.submissions
    assert whole.audio_bytes == (workdir / "joined.wav").stat().st_size  # as it is
    document = assert_spliced_cleanly(workdir / "out", "joined")
    assert_clip_has_its_words(document, where[1])
