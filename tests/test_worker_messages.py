"""The one message format of the worker processes: what goes through, what is refused,
and what the daemon does with a worker that breaks it (ends it; its jobs are retried)."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dropscribe.audio.compact_protocol import (
    ANSWERS as COMPACT_ANSWERS,
)
from dropscribe.audio.compact_protocol import (
    Compacted,
    CompactRequest,
    PartFile,
    PartWritten,
    Place,
)
from dropscribe.audio.cuts import Part
from dropscribe.backends.base import Failed, Pending, Request
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.backends.local.protocol import (
    PARENT_MESSAGES,
    WORKER_MESSAGES,
    Finished,
    Job,
    Progress,
    TrackChosen,
)
from dropscribe.config import load_settings
from dropscribe.errors import Retryable
from dropscribe.speakers.request import ANSWERS as SPEAKER_ANSWERS
from dropscribe.speakers.request import CountLimits, DiarizeRequest, Labelled
from dropscribe.transcript import Transcription, make_segment, make_word
from dropscribe.workers.channel import Channel
from dropscribe.workers.messages import MessageError, Ready, decode, encode
from dropscribe.workers.spawn import Worker
from tests.helpers import AUDIO, wait_for, write_config

ROOT = Path(__file__).resolve().parent.parent

WORDS = [make_word("She", 5.553, 5.633, 0.945), make_word("sells", 5.7, 6.0, None)]
TRANSCRIPTION = Transcription(
    [make_segment(" She sells", 5.553, 6.0, WORDS)],
    "en",
    9.1,
    626.4,
    model="tiny.en",
    warnings=["Mostly silence."],
    speakers=[{"label": "SPEAKER_1", "seconds": 0.4, "enrolled": False}],
)


@pytest.mark.parametrize(
    ("message", "kinds"),
    [
        (Finished(7, TRANSCRIPTION, "parts", {"recovered": 3}), WORKER_MESSAGES),
        (TrackChosen(7, {"tracks": 2, "language": "fr"}), WORKER_MESSAGES),
        (
            Job(7, "/in/a.wav", "auto", "transcribe", 3600.0, 1, True, "Norland.", None),
            PARENT_MESSAGES,
        ),
        (
            CompactRequest(
                "/in/a.wav",
                "/work",
                "opus",
                10**7,
                600.0,
                3600.0,
                "fr",
                2,
                (Part(0.0, 10.0, 0.0, 9.5), Part(9.0, 20.0, 9.5, 20.0)),
                Place(20.0, 20.0, 2),
                3,
            ),
            (CompactRequest,),
        ),
        (
            Compacted((PartFile(0, 10, 0, 9.5, "part-0000.ogg", 1234),), 20.0, "opus", None),
            COMPACT_ANSWERS,
        ),
        (
            DiarizeRequest("/in/a.wav", [(0.0, 1.0), (1.5, 2.0)], CountLimits(2, 1, 8, "voices")),
            (DiarizeRequest,),
        ),
        (
            Labelled(["Ann", None], 1, {"Ann": {"enrolled": True, "score": 0.91}}, None),
            SPEAKER_ANSWERS,
        ),
    ],
)
def test_every_protocols_messages_come_back_as_they_were_sent(message: Any, kinds: Any) -> None:
    assert decode(encode(message), kinds) == message


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not json", "not JSON"),
        (pickle.dumps(Progress(1, 2.0)), "not JSON"),  # a pickle is never unpickled
        (b"[1, 2]", "not a message"),
        (b'{"job_id": 1, "seconds": 2.0}', "not a message"),
        (b'{"type": "Evil", "job_id": 1}', "unexpected type"),
        (b'{"type": "Job", "job_id": 1}', "unexpected type"),  # the parent's, not the worker's
        (b'{"type": "Progress", "job_id": "1", "seconds": 2.0}', "job_id"),
        (b'{"type": "Progress", "job_id": true, "seconds": 2.0}', "job_id"),
        (b'{"type": "Progress", "job_id": 1}', "missing"),
        (b'{"type": "Progress", "job_id": 1, "seconds": 2.0, "run": "rm -rf /"}', "unknown"),
        (b'{"type": "Finished", "job_id": 1, "result": "pwned"}', "result"),
    ],
)
def test_a_message_not_of_the_protocol_is_refused_and_says_why(data: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why):
        decode(data, WORKER_MESSAGES)


def test_a_word_of_the_wrong_shape_deep_inside_a_transcript_is_refused() -> None:
    data = encode(Finished(7, TRANSCRIPTION)).replace(b'"start":5.7', b'"start":"5.7"')
    with pytest.raises(MessageError, match=r"segments: \[0\].*words: \[1\].*start"):
        decode(data, WORKER_MESSAGES)


def test_a_part_naming_a_file_outside_the_work_directory_is_refused() -> None:
    data = encode(PartWritten(PartFile(0, 1, 0, 1, "part-0000.ogg", 10)))
    with pytest.raises(MessageError, match="a name in the work directory"):
        decode(data.replace(b"part-0000.ogg", b"../../etc/passwd"), COMPACT_ANSWERS)


def test_a_line_longer_than_the_limit_is_refused_before_it_is_all_read() -> None:
    reading, writing = os.pipe()
    try:
        channel = Channel(reading, writing, max_line=1000)
        os.write(writing, b"x" * 5000)
        with pytest.raises(MessageError, match="longer than 1000 bytes"):
            channel.receive(WORKER_MESSAGES)
    finally:
        os.close(reading)
        os.close(writing)


def _put_on_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The worker programs of these tests are modules in ``folder``; every worker
    started from here finds them (children inherit the environment)."""
    monkeypatch.setenv("PYTHONPATH", f"{folder}{os.pathsep}{ROOT / 'src'}")


# A worker that never says it is ready (a model load that hangs, an import that blocks).
SILENT = """
import time
def main(channel):
    time.sleep(3600)
"""

# A worker whose libraries print on stdout before it says it is ready.
CHATTY = """
import os
from dropscribe.workers.messages import Ready
def main(channel):
    print("Loading model... done", flush=True)
    channel.send(Ready(os.getpid()))
"""


def test_a_worker_that_never_says_it_is_ready_is_stopped_with_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "silent.py").write_text(SILENT)
    _put_on_path(monkeypatch, tmp_path)
    worker = Worker("silent:main", what="test worker", ready=(Ready,), start_seconds=1)
    try:
        assert worker.receive((Ready,)) is None  # its end closes: it was killed
        assert worker.wait(30) == -9
        assert worker.failure == "The test worker did not start within 1 s and was stopped."
    finally:
        worker.close()


def test_what_a_worker_prints_cannot_pass_for_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chatty.py").write_text(CHATTY)
    _put_on_path(monkeypatch, tmp_path)
    worker = Worker("chatty:main", what="test worker", ready=(Ready,))
    try:
        assert worker.receive((Ready,)) == Ready(worker.pid)
        assert worker.ready.is_set() and worker.wait(30) == 0
    finally:
        worker.close()


# An engine worker that speaks the protocol until the file starts, then sends ``GARBAGE``
# (what a worker taken over by a hostile recording, or one gone wrong, could send).
GARBAGE_WORKER = """
import os, time
from dropscribe.backends.local.protocol import PARENT_MESSAGES, EngineOptions, Ready, Started
def main(channel):
    channel.receive((EngineOptions,))
    channel.send(Ready(os.getpid(), False, 1, 1))
    job = channel.receive(PARENT_MESSAGES)
    channel.send(Started(job.job_id, 3.0))
    os.write(channel.writing, GARBAGE + b"\\n")
    time.sleep(3600)
"""


@dataclass(frozen=True)
class Garbage:
    name: str
    line: bytes


@pytest.mark.parametrize(
    "garbage",
    [
        Garbage("not json", b"\x80\x04\x95 not json"),
        Garbage("a result of the wrong shape", b'{"type": "Finished", "job_id": 1, "result": []}'),
        Garbage("a message of no known type", b'{"type": "RunThis", "code": "import os"}'),
    ],
    ids=lambda garbage: garbage.name,
)
def test_an_engine_worker_that_sends_garbage_is_killed_and_its_file_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, garbage: Garbage
) -> None:
    program = GARBAGE_WORKER.replace("GARBAGE", repr(garbage.line))
    (tmp_path / "garbage_worker.py").write_text(program)
    _put_on_path(monkeypatch, tmp_path)
    backend = LocalBackend(load_settings(write_config(tmp_path)), "garbage_worker:main")
    try:
        path = AUDIO / "fox.wav"
        future = backend.submit(
            Request(1, path, path.name, path.stat().st_size, "auto", "transcribe")
        )
        outcome = backend.poll(future, 30)
        while isinstance(outcome, Pending):
            outcome = backend.poll(future, 30)
        assert isinstance(outcome, Failed) and isinstance(outcome.error, Retryable)
        assert "sent a message that is not of its protocol" in str(outcome.error)
        pid = int(future.data["pid"])
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "the worker killed and reaped")
    finally:
        backend.close()


# A compacting worker that says it is ready, takes the request, then names a part file
# outside its work directory (the daemon would upload whatever it names).
COMPACT_ESCAPE = """
import os
from dropscribe.audio.compact_protocol import CompactRequest
from dropscribe.workers.messages import Ready
def main(channel):
    channel.send(Ready(os.getpid()))
    channel.receive((CompactRequest,))
    part = '{"start": 0, "end": 1, "keep_start": 0, "keep_end": 1, '
    part += '"path": "/etc/shadow", "bytes": 1}'
    os.write(channel.writing, ('{"type": "PartWritten", "part": ' + part + '}\\n').encode())
    channel.receive((CompactRequest,))
"""


def test_a_compacting_worker_naming_a_file_outside_its_folder_is_stopped_and_the_file_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dropscribe.jobs.chunking.uploads import run_worker

    (tmp_path / "compact_escape.py").write_text(COMPACT_ESCAPE)
    _put_on_path(monkeypatch, tmp_path)
    request = CompactRequest(
        str(AUDIO / "fox.wav"), str(tmp_path / "work"), "opus", 10**8, 600, 3600
    )
    heard: list[PartFile] = []
    with pytest.raises(Retryable, match="not of its protocol"):
        run_worker(request, (0, 120.0), heard.append, None, "compact_escape:main")
    assert heard == []  # nothing was handed on to be uploaded


# A speaker worker that answers for fewer words than it was asked about, then one that
# answers with what no protocol knows.
SPEAKERS_SHORT = """
import os
from dropscribe.speakers.request import DiarizeRequest, Labelled
from dropscribe.workers.messages import Ready
def main(channel):
    channel.send(Ready(os.getpid()))
    channel.receive((DiarizeRequest,))
    channel.send(Labelled(["SPEAKER_1"], 1))
"""
SPEAKERS_GARBAGE = """
import os
from dropscribe.speakers.request import DiarizeRequest
from dropscribe.workers.messages import Ready
def main(channel):
    channel.send(Ready(os.getpid()))
    channel.receive((DiarizeRequest,))
    os.write(channel.writing, b'{"type": "Labelled", "labels": "everyone", "speakers": 1}\\n')
    channel.receive((DiarizeRequest,))
"""


@pytest.mark.parametrize(
    ("program", "warning"),
    [
        (SPEAKERS_SHORT, "the speaker worker labelled 1 words of 2."),
        (SPEAKERS_GARBAGE, "the speaker worker sent a message that is not of its protocol"),
    ],
    ids=["too few labels", "garbage"],
)
def test_a_speaker_worker_that_breaks_its_protocol_costs_the_labels_not_the_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str, warning: str
) -> None:
    from dropscribe.speakers.runner import SKIPPED, run_diarization

    (tmp_path / "speakers_fake.py").write_text(program)
    _put_on_path(monkeypatch, tmp_path)
    request = DiarizeRequest(str(AUDIO / "fox.wav"), [(0.0, 0.5), (0.6, 1.0)], CountLimits())
    outcome = run_diarization(request, 120, None, "speakers_fake:main")
    assert outcome.labels == [None, None]
    assert outcome.warning is not None and outcome.warning.startswith(f"{SKIPPED}: {warning}")
