"""What cannot be audio, told from a file's first bytes at intake, in microseconds.

A text file or a document named ``.mp3`` would otherwise wait in the queue
behind real work for the decoder to refuse it. Only what surely is no
recording is refused here: text (no NUL byte, valid UTF-8) and the
signatures of common documents, images, archives and programs. The
signature of a container that holds audio lets a file through at once;
anything else is left to the decoder, which has the last word.
"""

from __future__ import annotations

import codecs

from dropscribe.errors import BadInput

#: How much of the file is looked at.
HEAD_BYTES = 4096

#: Beginnings of containers that hold audio (WAV, AVI, MP3 with a tag, FLAC, Ogg,
#: Matroska and WebM, AIFF, AMR); MP4/MOV/M4A name "ftyp" at byte 4.
_AUDIO = (b"RIFF", b"ID3", b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3", b"FORM", b"#!AMR")
_NOT_AUDIO = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b\x08", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
)
#: Control characters that text holds; any other one means the bytes are not text.
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")


def not_audio(head: bytes) -> BadInput | None:
    """Return why a file beginning with ``head`` cannot be a recording, or None when
    it may be one (the decoder decides)."""
    if not head or head.startswith(_AUDIO) or head[4:8] == b"ftyp":
        return None
    for signature, kind in _NOT_AUDIO:
        if head.startswith(signature):
            return BadInput(
                f"The file is {kind}, not a recording; drop the recording itself.",
                detail=f"it begins with {head[:16]!r}",
            )
    if _is_text(head):
        return BadInput(
            "The file holds text, not a recording; drop the recording itself.",
            detail=f"it begins with {head[:40]!r}",
        )
    return None


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head, final=False)  # the head may end inside a character
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in _TEXT_CONTROLS or char == " " for char in text)
