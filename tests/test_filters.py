from __future__ import annotations

import pytest

from dropscribe.config import DEFAULT_EXTENSIONS
from dropscribe.inbox.filters import InboxFilter

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


def test_long_names_are_shortened_so_every_sidecar_name_fits() -> None:
    from dropscribe.outbox.naming import fit_name, sidecar_stem

    def output_stem(relative: str) -> str:
        return sidecar_stem(relative)

    long_stem = "é" * 200  # 400 bytes in UTF-8
    fitted = fit_name(long_stem)
    assert len((fitted + ".error.json").encode()) <= 255
    assert fitted != fit_name("é" * 201) and fitted.startswith("é" * 100)
    assert output_stem("calls/" + "x" * 244 + ".wav") == "calls/" + "x" * 244
    assert output_stem("a/" + "x" * 250 + ".wav").startswith("a/" + "x" * 235 + "~")
    assert fit_name("short") == "short"
