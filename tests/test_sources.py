"""Opening recordings never goes through a symbolic link, at any depth."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dropscribe.errors import BadInput
from dropscribe.sources import Vanished, hash_source, open_source, stat_source


def test_a_regular_file_is_opened_and_hashed(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    with open_source(tmp_path / "a.wav") as stream:
        assert stream.read() == b"RIFF"
    assert hash_source(tmp_path / "a.wav", inside=tmp_path) == hashlib.sha256(b"RIFF").hexdigest()


def test_a_link_to_a_file_is_refused_with_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    (tmp_path / "a.wav").symlink_to(tmp_path / "secret")
    for inside in (None, tmp_path):
        with pytest.raises(BadInput, match="symbolic link"):
            open_source(tmp_path / "a.wav", inside)


def test_a_linked_folder_below_the_inbox_is_refused(tmp_path: Path) -> None:
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    elsewhere.mkdir()
    (elsewhere / "a.wav").write_bytes(b"RIFF")
    (inbox / "calls").symlink_to(elsewhere)
    with pytest.raises(BadInput, match="folder on the way"):
        open_source(inbox / "calls" / "a.wav", inside=inbox)


def test_a_directory_and_a_fifo_are_refused_without_hanging(tmp_path: Path) -> None:
    (tmp_path / "d.wav").mkdir()
    os.mkfifo(tmp_path / "p.wav")
    with pytest.raises(BadInput, match="directory"):
        open_source(tmp_path / "d.wav")
    with pytest.raises(BadInput, match="not a regular file"):
        open_source(tmp_path / "p.wav", inside=tmp_path)


def test_a_missing_file_or_folder_is_vanished_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(Vanished, match="disappeared from the inbox"):
        open_source(tmp_path / "gone.wav", inside=tmp_path)
    with pytest.raises(Vanished, match="disappeared from the inbox"):
        open_source(tmp_path / "gone" / "a.wav", inside=tmp_path)
    with pytest.raises(Vanished):
        hash_source(tmp_path / "gone.wav")


def test_an_unreadable_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file; the permission test runs it as nobody")
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "a.wav").chmod(0)
    with pytest.raises(BadInput, match="permission denied"):
        open_source(tmp_path / "a.wav")


def test_stat_source_reports_a_link_as_a_link(tmp_path: Path) -> None:
    (tmp_path / "a.wav").symlink_to("/etc/passwd")
    assert stat_source(tmp_path / "a.wav").st_size == len("/etc/passwd")
