"""The transcript as a Word document (``.docx``), with python-docx.

The same parts as the Markdown document (:mod:`.documents`): the title, a
line with the date, length and language, the speakers, a paragraph per turn
with its time stamp and the speaker's name in bold, the warnings at the end.
"""

from __future__ import annotations

import io
import re

from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.documents import facts_line, heading_of, speaker_line, turns_of
from dropscribe.transcript import Document, clock_time

#: Characters XML 1.0 cannot hold (python-docx refuses them): a server's stray control byte.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def to_docx(document: Document, rules: CueRules | None = None) -> bytes:
    """Return the transcript as the bytes of a .docx file."""
    import docx  # only when the format is chosen: it pulls in lxml

    heading = heading_of(document)
    word = docx.Document()
    word.core_properties.title = _xml_safe(heading.title)
    word.add_heading(_xml_safe(heading.title), level=0)
    word.add_paragraph(facts_line(heading))
    if (speakers := speaker_line(document)) is not None:
        paragraph = word.add_paragraph()
        paragraph.add_run("Speakers: ").bold = True
        paragraph.add_run(_xml_safe(speakers))
    for turn in turns_of(document):
        paragraph = word.add_paragraph()
        paragraph.add_run(f"[{clock_time(turn.start)}] ")
        if turn.speaker is not None:
            paragraph.add_run(f"{_xml_safe(turn.speaker)}: ").bold = True
        paragraph.add_run(_xml_safe(turn.text))
    if document["warnings"]:
        word.add_heading("Warnings", level=1)
        for warning in document["warnings"]:
            word.add_paragraph(_xml_safe(warning), style="List Bullet")
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()
