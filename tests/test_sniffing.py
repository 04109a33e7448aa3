"""What cannot be audio, told at intake from the first bytes (issue 28 item 6)."""

from __future__ import annotations

import os

import pytest

from dropscribe.inbox.sniffing import HEAD_BYTES, not_audio
from tests.helpers import AUDIO

RECORDINGS = sorted(p for p in AUDIO.iterdir() if p.suffix != ".txt")


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_every_fixture_recording_and_video_gets_through(recording: os.PathLike[str]) -> None:
    with open(recording, "rb") as stream:
        assert not_audio(stream.read(HEAD_BYTES)) is None


@pytest.mark.parametrize(
    ("head", "sentence"),
    [
        (b"hello world, these are notes\n", "The file holds text, not a recording"),
        ("<!DOCTYPE html><title>Fehler 404: Seite für Sie nicht gefunden</title>".encode(), "text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "The file is a PDF document, not a recording"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "a PNG image"),
        (b"PK\x03\x04\x14\0\0\0", "a ZIP archive"),
    ],
)
def test_text_and_documents_are_refused_in_one_sentence(head: bytes, sentence: str) -> None:
    refusal = not_audio(head)
    assert refusal is not None and sentence in str(refusal)
    assert str(refusal).endswith("drop the recording itself.") and refusal.detail


def test_binary_is_left_to_the_decoder_and_text_cut_inside_a_character_is_still_text() -> None:
    assert not_audio(bytes(range(256)) * 16) is None  # binary: the decoder decides
    cut = ("ü" * 3000).encode()[: HEAD_BYTES - 1]  # ends inside a two-byte character
    refusal = not_audio(cut)
    assert refusal is not None and "text" in str(refusal)
