from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.document import build_document, load_schema
from dropscribe.outbox.formats import to_srt, to_txt, to_vtt
from dropscribe.outbox.writer import Outbox, Sidecars, atomic_write, move_original
from dropscribe.transcript import (
    Document,
    Transcription,
    make_segment,
    make_word,
)


def document() -> Document:
    words = [make_word(" She", 5.553, 5.633, 0.945), make_word(" sells", 5.7, 6.0, 0.9)]
    segments = [
        make_segment(" She sells.", 5.553, 8.66, words),
        make_segment(" Seashells --> by the sea.", 3661.5, 3663.0, []),
    ]
    result = Transcription(segments, "en", 3670.0, 626.44, "tiny.en")
    return build_document(
        result, source_path="calls/a.wav", sha256="a" * 64, size=10, backend="local"
    )


def test_the_document_has_the_seed_keys_and_validates_against_the_schema() -> None:
    doc = document()
    jsonschema.validate(doc, load_schema())
    assert doc["transcription"] == " She sells. Seashells --> by the sea."
    assert doc["response"]["word_segments"][0] == {
        "word": "She",
        "start": 5.553,
        "end": 5.633,
        "score": 0.945,
        "speaker": None,
    }
    assert doc["prediction_time_ms"] == 626.4


def test_srt_and_vtt_have_numbered_timed_cues() -> None:
    srt = to_srt(document())
    # The first cue is timed by its words, held on screen for the minimum second.
    assert srt.startswith("1\n00:00:05,553 --> 00:00:06,553\nShe sells.\n\n2\n01:01:01,500")
    assert "Seashells -> by the sea." in srt
    vtt = to_vtt(document())
    assert vtt.startswith("WEBVTT\n\n00:00:05.553 --> 00:00:06.553\nShe sells.\n")
    assert "Seashells --&gt; by the sea." in vtt
    assert to_txt(document()) == "She sells.\n\nSeashells --> by the sea.\n"


def test_sidecars_are_written_whole_and_leave_no_temporary_files(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, ["json", "txt", "srt", "vtt"])
    written = outbox.write_transcript("calls/a", document())
    assert sorted(p.name for p in (tmp_path / "calls").iterdir()) == [
        "a.json",
        "a.srt",
        "a.txt",
        "a.vtt",
    ]
    assert written[0] == tmp_path / "calls" / "a.json"
    assert json.loads(written[0].read_text())["source"]["path"] == "calls/a.wav"


def test_an_error_sidecar_replaces_an_earlier_transcript_and_the_reverse(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, ["json", "txt"])
    outbox.write_transcript("a", document())
    outbox.write_error("a", {"error": "bad"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.error.json"]
    outbox.write_transcript("a", document())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.txt"]


def test_a_batch_is_written_by_one_set_of_settings(tmp_path: Path) -> None:
    """A reload between two transcripts of one batch must not give them different
    sidecars: the outbox reads the settings in force once per batch."""
    snapshots = iter(
        [
            Sidecars(("json", "srt"), CueRules(line_chars=20)),
            Sidecars(("txt",), CueRules(line_chars=60)),
        ]
    )
    outbox = Outbox(tmp_path, current=lambda: next(snapshots))
    outcomes = outbox.write_transcripts([("a", document()), ("b", document())])
    assert outcomes == [
        [tmp_path / "a.json", tmp_path / "a.srt"],
        [tmp_path / "b.json", tmp_path / "b.srt"],
    ]
    assert (tmp_path / "a.srt").read_text() == (tmp_path / "b.srt").read_text()
    # The next batch reads the settings again.
    assert outbox.write_transcript("c", document()) == [tmp_path / "c.txt"]


def test_temporaries_left_by_a_crash_are_removed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".dropscribe-abc.tmp").write_text("half")
    (tmp_path / "keep.json").write_text("{}")
    assert Outbox(tmp_path, ["json"]).remove_temporaries() == 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["keep.json"]


def test_temporaries_in_the_archive_and_failed_folders_are_removed_too(tmp_path: Path) -> None:
    """A copy of an original to another file system goes through a temporary too."""
    outbox, archive, failed = (tmp_path / name for name in ("outbox", "archive", "failed"))
    for folder in (outbox, archive / "2026", failed):
        folder.mkdir(parents=True)
        (folder / ".dropscribe-7-0.tmp").write_bytes(b"half a copy")
    (archive / "2026" / "call.wav").write_bytes(b"RIFF")
    removed = Outbox(outbox, ["json"]).remove_temporaries(failed, archive, tmp_path / "absent")
    assert removed == 3
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["call.wav"]


def test_a_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(IsADirectoryError):
        atomic_write(target, "new")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert target.is_dir()


def test_archiving_never_overwrites_an_earlier_original(tmp_path: Path) -> None:
    inbox, archive = tmp_path / "in", tmp_path / "archive"
    (inbox / "x").mkdir(parents=True)
    for content in ("first", "second"):
        (inbox / "x" / "a.wav").write_text(content)
        move_original(inbox / "x" / "a.wav", archive, "x/a.wav")
    assert (archive / "x" / "a.wav").read_text() == "first"
    assert (archive / "x" / "a (2).wav").read_text() == "second"
    assert move_original(inbox / "x" / "a.wav", archive, "x/a.wav") is None


def test_one_time_format_for_sidecars_and_reports() -> None:
    from dropscribe.transcript import iso_time

    assert iso_time(1_767_323_045.9) == "2026-01-02T03:04:05Z"
    assert iso_time(None) is None
    created = build_document(
        Transcription([], "en", 0.0, 1.0),
        source_path="a.wav",
        sha256="0" * 64,
        size=1,
        backend="local",
        now=dt.datetime(2026, 1, 2, 3, 4, 5, 900_000, tzinfo=dt.UTC),
    )["created_at"]
    assert created == "2026-01-02T03:04:05Z"
