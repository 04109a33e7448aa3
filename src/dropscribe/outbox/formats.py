"""Render a transcript document as plain text, SRT or WebVTT.

Text is one segment a line, a blank line where a pause of 2 s or more falls;
subtitles are cues built from the words (:mod:`.cues`). Where diarization
labelled the words, the text and the SRT cues name the speaker where it
changes (``SPEAKER_1: …``) and every WebVTT cue carries its voice tag
(``<v SPEAKER_1>``), which players use for styling.
"""

from __future__ import annotations

from collections.abc import Callable

from dropscribe.outbox.cues import Cue, CueRules, build_cues, speaker_prefix, tokens_from_segments
from dropscribe.outbox.documents import to_md
from dropscribe.outbox.docx_render import to_docx
from dropscribe.transcript import Document
from dropscribe.transcript.segments import LONG_PAUSE_SECONDS


def to_txt(document: Document, rules: CueRules | None = None) -> str:
    """Return the text, one segment a line, a blank line at each long pause."""
    lines: list[str] = []
    previous_end: float | None = None
    previous_speaker: str | None = None
    for segment in document["response"]["segments"]:
        text = segment["text"].strip()
        if not text:
            continue
        if previous_end is not None and segment["start"] - previous_end >= LONG_PAUSE_SECONDS:
            lines.append("")
        speaker = segment["speaker"]
        if speaker is not None and speaker != previous_speaker:
            text = speaker_prefix(speaker) + text
        previous_end, previous_speaker = segment["end"], speaker
        lines.append(text)
    return "\n".join(lines) + "\n"


def cues_of(document: Document, rules: CueRules | None = None) -> list[Cue]:
    """Return the subtitle cues of ``document``."""
    rules = rules or CueRules()
    tokens = tokens_from_segments(document["response"]["segments"], rules)
    return build_cues(tokens, rules, document["duration"])


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _span(cue: Cue, separator: str) -> str:
    return f"{_timestamp(cue.start, separator)} --> {_timestamp(cue.end, separator)}"


def to_srt(document: Document, rules: CueRules | None = None) -> str:
    blocks = []
    for number, cue in enumerate(cues_of(document, rules), start=1):
        # "-->" would end a cue's text early.
        lines = [line.replace("-->", "->") for line in cue.lines]
        if cue.new_speaker and cue.speaker is not None:
            lines[0] = speaker_prefix(cue.speaker) + lines[0]
        blocks.append(f"{number}\n{_span(cue, ',')}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(document: Document, rules: CueRules | None = None) -> str:
    blocks = ["WEBVTT\n"]
    for cue in cues_of(document, rules):
        lines = [_escape(line) for line in cue.lines]
        if cue.speaker is not None:
            lines[0] = f"<v {_escape(cue.speaker)}>" + lines[0]
        blocks.append(f"{_span(cue, '.')}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


RENDERERS: dict[str, Callable[[Document, CueRules | None], str]] = {
    "txt": to_txt,
    "srt": to_srt,
    "vtt": to_vtt,
    "md": to_md,
}
#: Formats that are bytes, not text.
BINARY_RENDERERS: dict[str, Callable[[Document, CueRules | None], bytes]] = {"docx": to_docx}
