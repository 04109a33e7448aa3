"""The folder's words in the real daemon (issue 27): every chunk of a long recording is
sent them, and a copy in a folder with other words is transcribed again, not reused;
a folder that asks for documents gets them.

The daemon is ``dropscribe run`` in a subprocess; the engine a fake RunPod worker on
127.0.0.1 that refuses inputs its schema does not know.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import AUDIO, DaemonProcess, wait_for, write_config
from tests.remote_setup import COMPACT_ALL, FAST_POLLS, TOKEN, backend_section
from tests.servers import FakeServer, RunPodServer

LONG = AUDIO / "long_reading.flac"


def config_for(workdir: Path, server: FakeServer) -> Path:
    return write_config(
        workdir,
        {
            "transcribe": {"backend": "runpod", "vocabulary": ["Kubernetes"]},
            "backends.runpod": {
                **FAST_POLLS,
                **COMPACT_ALL,
                **backend_section("runpod", server.url),
                "max_chunk_seconds": 10,
            },
            'folders."clinic"': {
                "vocabulary": "clinic.txt",
                "prompt": "A clinic's notes.",
                "formats": ["json", "docx", "md"],
            },
            'folders."ward"': {"vocabulary": "clinic.txt", "prompt": "A clinic's notes."},
        },
    )


def transcribed(outbox: Path, relative: str) -> bool:
    return (outbox / relative).with_suffix(".json").exists()


def drop(workdir: Path, relative: str) -> None:
    target = workdir / "inbox" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(".upload.part")
    temporary.write_bytes(LONG.read_bytes())
    temporary.rename(target)


def test_every_chunk_is_sent_its_folders_words_and_other_words_mean_another_result(
    workdir: Path,
) -> None:
    (workdir / "clinic.txt").write_text("Dashwood\nNorland\n")
    outbox = workdir / "outbox"
    with RunPodServer() as server:
        server.token = TOKEN
        with DaemonProcess(config_for(workdir, server)) as daemon:
            drop(workdir, "clinic/visit.flac")
            wait_for(lambda: transcribed(outbox, "clinic/visit.flac"), 60, "the clinic's")
            first = len(server.submissions)
            # The same recording where the words are the same: the result is reused.
            drop(workdir, "ward/visit.flac")
            wait_for(lambda: transcribed(outbox, "ward/visit.flac"), 60, "the ward's")
            reused = len(server.submissions)
            # And at the top, with other words: transcribed again, with those.
            drop(workdir, "visit.flac")
            wait_for(lambda: transcribed(outbox, "visit.flac"), 60, "the top's")
            assert daemon.stop() == 0
    prompts = [job.fields.get("initial_prompt") for job in server.submissions]
    assert first >= 3, "the 31 s reading goes as several 10 s chunks"
    assert prompts[:first] == ["A clinic's notes. Dashwood. Norland."] * first
    assert reused == first
    assert prompts[first:] == ["Kubernetes."] * (len(prompts) - first)
    assert len(prompts) == 2 * first
    ward = json.loads((outbox / "ward" / "visit.json").read_text())
    assert ward["source"]["path"] == "ward/visit.flac"
    # The clinic asked for documents; the other folders write the default sidecars.
    assert sorted(p.name for p in (outbox / "clinic").iterdir()) == [
        "visit.docx",
        "visit.json",
        "visit.md",
    ]
    assert sorted(p.suffix for p in outbox.glob("visit.*")) == [".json", ".srt", ".txt", ".vtt"]
