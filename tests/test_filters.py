from __future__ import annotations

import pytest

from dropscribe.config import DEFAULT_EXTENSIONS
from dropscribe.filters import InboxFilter

FILTER = InboxFilter(DEFAULT_EXTENSIONS, ["*.skip.wav"])


@pytest.mark.parametrize(
    "path",
    [
        "talk.wav",
        "a/b/c.MP3",
        "x.m4a",
        "x.flac",
        "x.ogg",
        "x.opus",
        "x.webm",
        "x.aac",
        "x.aiff",
        "name with spaces.wav",
        "naïve — ünïcode.mp3",
    ],
)
def test_recordings_with_allowed_extensions_are_candidates(path: str) -> None:
    assert FILTER(path)


@pytest.mark.parametrize(
    "path",
    [
        "talk.wav.part",
        "talk.crdownload",
        "talk.tmp",
        "~$talk.wav",
        ".~lock.talk.wav#",
        ".DS_Store",
        "Thumbs.db",
        "@eaDir/talk.wav",
        "a/.stfolder/talk.wav",
        ".sync/x.wav",
        ".dropbox.cache/x.wav",
        ".talk.wav.Xy12z",
        "notes.txt",
        "noextension",
        "x.skip.wav",
    ],
)
def test_temporary_hidden_and_foreign_files_are_ignored(path: str) -> None:
    assert not FILTER(path)
