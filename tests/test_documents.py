"""Transcripts as documents (issue 27): Word (.docx) and Markdown (.md) with YAML front matter.

Each is read back with a real parser (python-docx, PyYAML): every word of the
transcript once, in order, each turn with its speaker and time stamp.
"""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import docx
import pytest
import yaml

from dropscribe.config import load_settings
from dropscribe.outbox.document import build_document
from dropscribe.outbox.documents import to_md
from dropscribe.outbox.docx_render import to_docx
from dropscribe.outbox.writer import Outbox, Sidecars
from dropscribe.transcript import Document, Transcription, clock_time, make_segment, make_word
from tests.helpers import write_config

#: Two speakers; words with Markdown's markup characters and an XML-forbidden byte.
TURNS = [
    ("SPEAKER_1", 0.5, "Good morning, Doctor Dashwood. How is Norland?"),
    ("SPEAKER_1", 4.0, "The *new* wing_2 opened [at last]."),
    ("SPEAKER_2", 7.2, "Morning. Norland is <fine> # mostly, 100% \x01ready."),
    ("SPEAKER_1", 12.0, "Good. Kubernetes | dropscribe, then."),
    ("SPEAKER_2", 75.0, "Yes."),
]


def document(
    speakers: bool = True, warnings: tuple[str, ...] = ("Part of it is noise.",)
) -> Document:
    segments = []
    for speaker, start, text in TURNS:
        words = [
            make_word(
                word, start + 0.4 * i, start + 0.4 * i + 0.3, 0.9, speaker if speakers else None
            )
            for i, word in enumerate(text.split())
        ]
        segments.append(
            make_segment(" " + text, start, words[-1]["end"], words, speaker if speakers else None)
        )
    result = Transcription(segments, "en", 80.25, 1.0, model="tiny.en", warnings=list(warnings))
    if speakers:
        result.speakers = [
            {"label": "SPEAKER_1", "seconds": 9.5},
            {"label": "SPEAKER_2", "seconds": 4.0},
        ]
    return build_document(
        result, source_path="calls/Mon: 'x'.wav", sha256="0" * 64, size=10, backend="local"
    )


def all_words(made: Document) -> list[str]:
    return [word["word"] for word in made["response"]["word_segments"]]


STAMP = re.compile(r"^\[(\d+:\d\d(?::\d\d)?)\] $")


def test_the_word_document_holds_every_word_once_in_order_with_speakers_and_times() -> None:
    made = document()
    read = docx.Document(io.BytesIO(to_docx(made)))
    paragraphs = read.paragraphs
    title_style = paragraphs[0].style
    assert paragraphs[0].text == "Mon: 'x'.wav" and title_style and title_style.name == "Title"
    assert (
        paragraphs[1].text
        == "Transcribed " + made["created_at"][:10] + " · length 1:20 · language en"
    )
    assert paragraphs[2].text == "Speakers: SPEAKER_1 (0:09), SPEAKER_2 (0:04)"
    body = paragraphs[3 : paragraphs.index(next(p for p in paragraphs if p.text == "Warnings"))]
    words, turns = [], []
    for paragraph in body:
        stamp, name, text = paragraph.runs
        match = STAMP.match(stamp.text)
        assert match is not None and not stamp.bold
        assert name.bold and name.text.endswith(": ")
        turns.append((name.text[:-2], match.group(1)))
        words += text.text.split()
    assert words == [w.replace("\x01", "\ufffd") for w in all_words(made)]
    # One paragraph per speaker turn: the first speaker's two segments in a row are one.
    assert turns == [
        ("SPEAKER_1", "0:00"),
        ("SPEAKER_2", "0:07"),
        ("SPEAKER_1", "0:12"),
        ("SPEAKER_2", "1:15"),
    ]
    assert (
        paragraphs[-1].text == "Part of it is noise."
        and read.core_properties.title == "Mon: 'x'.wav"
    )


def front_matter_and_body(text: str) -> tuple[dict[str, object], str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    parsed = yaml.safe_load(head)
    assert isinstance(parsed, dict)
    return parsed, body


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def test_the_markdown_document_has_front_matter_and_every_word_once_in_order() -> None:
    made = document()
    matter, body = front_matter_and_body(to_md(made))
    assert matter == {
        "title": "Mon: 'x'.wav",
        "source": "calls/Mon: 'x'.wav",
        "duration": 80.25,
        "language": "en",
        "speakers": ["SPEAKER_1", "SPEAKER_2"],
        "created": made["created_at"],
        "engine": "local",
        "model": "tiny.en",
    }
    lines = [line for line in body.splitlines() if line]
    assert lines[0] == "# Mon: 'x'.wav"
    assert lines[2] == "**Speakers:** SPEAKER_1 (0:09), SPEAKER_2 (0:04)"
    turn = re.compile(r"^\*\*\[(\d+:\d\d)\]\*\* \*\*(SPEAKER_\d):\*\* (.*)$")
    found = [turn.match(line) for line in lines[3:]]
    turns = [m for m in found if m]
    assert [(m.group(2), m.group(1)) for m in turns] == [
        ("SPEAKER_1", "0:00"),
        ("SPEAKER_2", "0:07"),
        ("SPEAKER_1", "0:12"),
        ("SPEAKER_2", "1:15"),
    ]
    # Markup characters are escaped, so the words read back as they were said.
    assert "\\*new\\*" in body and "\\[at last\\]" in body
    words = [word for m in turns for word in unescape(m.group(3)).split()]
    assert words == all_words(made)
    assert lines[-2:] == ["## Warnings", "- Part of it is noise."]


def test_without_speakers_a_paragraph_is_a_segment_and_no_warnings_no_section() -> None:
    made = document(speakers=False, warnings=())
    matter, body = front_matter_and_body(to_md(made))
    assert matter["speakers"] == []
    assert "Speakers" not in body and "Warnings" not in body
    stamps = re.findall(r"^\*\*\[(\d+:\d\d)\]\*\* (?!\*\*)", body, flags=re.MULTILINE)
    assert stamps == [clock_time(s["start"]) for s in made["response"]["segments"]]
    read = docx.Document(io.BytesIO(to_docx(made)))
    assert [p.text for p in read.paragraphs if p.text == "Warnings"] == []
    assert all(len(p.runs) == 2 for p in read.paragraphs[2:])  # a stamp and the text


def test_documents_are_off_by_default_and_on_for_the_folder_that_asks(tmp_path: Path) -> None:
    settings = load_settings(
        write_config(
            tmp_path,
            {
                'folders."calls"': {"formats": ["json", "docx", "md"]},
                'folders."calls/short"': {"formats": ["txt"]},
            },
        )
    )
    outbox = Outbox(tmp_path / "outbox", current=lambda: Sidecars.of(settings))
    made = document()
    elsewhere, inner = copy.deepcopy(made), copy.deepcopy(made)
    elsewhere["source"]["path"] = "other/a.wav"
    inner["source"]["path"] = "calls/short/a.wav"
    written = outbox.write_transcripts(
        [("calls/a", made), ("other/a", elsewhere), ("calls/short/a", inner)]
    )
    names = [sorted(p.name for p in paths) for paths in written if isinstance(paths, list)]
    assert names == [["a.docx", "a.json", "a.md"], ["a.json", "a.srt", "a.txt", "a.vtt"], ["a.txt"]]
    docx.Document(str(tmp_path / "outbox" / "calls" / "a.docx"))  # a whole document
    # A later failure of the same stem takes its documents away too.
    outbox.write_error("calls/a", {"error": "gone"})
    assert sorted(p.name for p in (tmp_path / "outbox" / "calls").iterdir()) == [
        "a.error.json",
        "short",
    ]


@pytest.mark.parametrize("fmt", ["md", "docx"])
def test_an_empty_transcript_is_still_a_document(fmt: str) -> None:
    result = Transcription([], "en", 3.0, 1.0)
    made = build_document(
        result, source_path="silence.wav", sha256="0" * 64, size=1, backend="local"
    )
    if fmt == "md":
        matter, body = front_matter_and_body(to_md(made))
        assert matter["duration"] == 3.0 and "# silence.wav" in body
    else:
        read = docx.Document(io.BytesIO(to_docx(made)))
        assert read.paragraphs[0].text == "silence.wav"
