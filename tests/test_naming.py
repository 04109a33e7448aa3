"""Sidecar names and the fate of originals: the pure rules, each decided once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dropscribe.config import PathsSettings
from dropscribe.config.originals import archive_folder, originals_fate
from dropscribe.outbox.naming import display_path, sidecar_candidates, sidecar_stem


def test_a_unique_stem_keeps_the_plain_name_and_a_taken_one_gets_its_extension() -> None:
    assert sidecar_stem("calls/a.wav") == "calls/a"
    assert sidecar_stem("calls/a.mp3", lambda name: name == "calls/a") == "calls/a.mp3"
    taken = {"calls/a", "calls/a.mp3"}
    last = sidecar_stem("calls/a.mp3", taken.__contains__)
    assert last.startswith("calls/a.mp3~") and last == sidecar_candidates("calls/a.mp3")[2]


def test_bytes_that_are_not_utf8_and_control_characters_become_percent_codes() -> None:
    name = os.fsdecode(b"bad-\xff\xfe-\x01\x7f.wav")
    folder = os.fsdecode(b"dir\xff")
    assert sidecar_stem(f"{folder}/{name}") == "dir%FF/bad-%FF%FE-%01%7F"
    assert display_path(name) == "bad-\\xff\\xfe-\x01\x7f.wav"
    assert sidecar_stem("-dash.wav") == "-dash" and sidecar_stem("back\\slash.wav") == "back\\slash"


def test_escaped_and_long_names_still_fit_in_255_bytes_with_any_suffix() -> None:
    name = os.fsdecode(b"\xff" * 200 + b".wav")  # escaping triples it
    folder = os.fsdecode(b"\xfe" * 255)
    *folders, stem = sidecar_stem(f"{folder}/{name}").split("/")
    assert len((stem + ".error.json").encode()) <= 255
    assert all(len(part.encode()) <= 255 for part in folders)


@pytest.mark.parametrize(
    ("originals", "archive", "fate", "folder"),
    [
        ("archive", "archive", "archive", True),
        (None, "", "keep", False),  # the default, with no archive folder
        ("keep", "archive", "keep", False),
        ("delete", "archive", "delete", False),
        ("delete", "", "delete", False),
    ],
)
def test_what_happens_to_originals_is_read_from_both_keys_in_one_place(
    tmp_path: Path, originals: str | None, archive: str, fate: str, folder: bool
) -> None:
    values = {"archive": str(tmp_path / archive) if archive else ""}
    if originals is not None:
        values["originals"] = originals
    paths = PathsSettings.model_validate(values)
    assert originals_fate(paths) == fate
    assert (archive_folder(paths) is not None) == folder
