"""Transcripts as documents people open and share: Markdown here, Word in :mod:`.docx_render`.

Both have the same parts: a title (the recording's name), its date, length
and language, the speakers, then one paragraph per speaker turn (per
segment when no speakers are labelled) starting with its time stamp and,
in bold, the speaker's name; the warnings come last. The Markdown file
opens with YAML front matter (``source``, ``duration``, ``language``,
``speakers``, ...) for Obsidian and static-site tools.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from dropscribe.outbox.cues import CueRules
from dropscribe.transcript import Document, clock_time


@dataclass(frozen=True)
class Turn:
    """One paragraph: a speaker's turn, or one segment when nobody is labelled."""

    start: float
    speaker: str | None
    text: str


@dataclass(frozen=True)
class Heading:
    title: str
    date: str
    length: str | None
    language: str | None
    speakers: list[str]


def turns_of(document: Document) -> list[Turn]:
    """Return the paragraphs: segments of one speaker in a row join into one turn."""
    turns: list[Turn] = []
    for segment in document["response"]["segments"]:
        text = " ".join(segment["text"].split())  # a server's line breaks would split a turn
        if not text:
            continue
        speaker = segment["speaker"]
        if turns and speaker is not None and turns[-1].speaker == speaker:
            turns[-1] = Turn(turns[-1].start, speaker, f"{turns[-1].text} {text}")
        else:
            turns.append(Turn(segment["start"], speaker, text))
    return turns


def heading_of(document: Document) -> Heading:
    duration = document["duration"]
    return Heading(
        title=PurePosixPath(document["source"]["path"]).name,
        date=document["created_at"][:10],
        length=None if duration is None else clock_time(duration),
        language=document["language"],
        speakers=[entry["label"] for entry in document.get("speakers", [])],
    )


def speaker_line(document: Document) -> str | None:
    """Return "SPEAKER_1 (1:02), SPEAKER_2 (0:40)", or None when nobody is labelled."""
    times = document.get("speakers", [])
    if not times:
        return None
    return ", ".join(f"{entry['label']} ({clock_time(entry['seconds'])})" for entry in times)


def facts_line(heading: Heading) -> str:
    """Return the line under the title: date, length, language."""
    facts = [f"Transcribed {heading.date}"]
    if heading.length is not None:
        facts.append(f"length {heading.length}")
    if heading.language:
        facts.append(f"language {heading.language}")
    return " · ".join(facts)


# --- Markdown ------------------------------------------------------------------------

#: Characters that would turn transcript text into Markdown markup; ``_`` only at a
#: word's edge (inside a word, as in SPEAKER_1, it is no markup and stays readable).
_MARKUP = re.compile(r"([\\`*\[\]<>#|~]|(?<!\w)_|_(?!\w))")


def escape_markdown(text: str) -> str:
    """Return ``text`` with a backslash before every character Markdown would read as markup."""
    return _MARKUP.sub(r"\\\1", text)


def front_matter(document: Document, heading: Heading) -> str:
    """Return the YAML front matter. Every value is written as JSON, which YAML reads
    as it is: names with colons, quotes or non-ASCII letters need no YAML quoting rules."""
    fields = {
        "title": heading.title,
        "source": document["source"]["path"],
        "duration": document["duration"],
        "language": document["language"],
        "speakers": heading.speakers,
        "created": document["created_at"],
        "engine": document["engine"]["backend"],
        "model": document["engine"]["model"],
    }
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def to_md(document: Document, rules: CueRules | None = None) -> str:
    """Return the transcript as Markdown with YAML front matter."""
    heading = heading_of(document)
    parts = [front_matter(document, heading), f"# {escape_markdown(heading.title)}\n"]
    parts.append(f"*{facts_line(heading)}*\n")
    if (speakers := speaker_line(document)) is not None:
        parts.append(f"**Speakers:** {speakers}\n")
    for turn in turns_of(document):
        who = "" if turn.speaker is None else f"**{escape_markdown(turn.speaker)}:** "
        parts.append(f"**[{clock_time(turn.start)}]** {who}{escape_markdown(turn.text)}\n")
    if document["warnings"]:
        parts.append("## Warnings\n")
        parts.append("".join(f"- {escape_markdown(w)}\n" for w in document["warnings"]))
    return "\n".join(parts)
