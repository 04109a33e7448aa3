"""The user's words: terms to spell right and context text, per folder (``vocabulary``, ``prompt``).

``vocabulary`` is a list of terms, or the path of a file with one term a line
(blank lines and lines starting with ``#`` are skipped). The file is read
again whenever its size, modification time or inode change, so an edited list
applies to the next file without a reload. :class:`Words` is what a job is
transcribed with; each engine takes from it what it can use.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("dropscribe.config.vocabulary")


@dataclass(frozen=True)
class Words:
    """The terms to spell right and the free context text for one job."""

    terms: tuple[str, ...] = ()
    prompt: str | None = None

    def __bool__(self) -> bool:
        return bool(self.terms or self.prompt)

    def terms_text(self) -> str | None:
        """Return the terms as one text for a prompt (or faster-whisper's ``hotwords``).

        Terms are written as short sentences ("Dashwood. Norland."): with tiny.en a
        comma list made the decoder write lists itself (bench/README.md, issue 27).
        """
        if not self.terms:
            return None
        return " ".join(term if term[-1] in ".!?" else term + "." for term in self.terms)

    @staticmethod
    def split_terms_text(text: str | None) -> tuple[str, ...]:
        """Return the terms of a :meth:`terms_text` again, each without the full stop it
        ends with (a term with a full stop and a space inside, "Dr. Who", comes back as
        two: "Dr" and "Who")."""
        parts = re.split(r"(?<=[.!?])\s+", (text or "").strip())
        return unique_terms(part[:-1] if part.endswith(".") else part for part in parts)

    def as_prompt(self) -> str | None:
        """Return the context text and the terms as one prompt (engines with one field)."""
        parts = [part for part in (self.prompt, self.terms_text()) if part]
        return " ".join(parts) or None

    def fingerprint(self) -> str | None:
        """Return a short hash of the words, for the result key (None without words)."""
        if not self:
            return None
        payload = "\n".join([self.prompt or "", *self.terms])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def parse_terms(text: str) -> tuple[str, ...]:
    """Return the terms of a vocabulary file: one a line, in order, each once."""
    lines = (line.strip() for line in text.splitlines())
    return unique_terms(line for line in lines if line and not line.startswith("#"))


def unique_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """Return the non-blank terms, stripped, each once, in their first order."""
    seen: dict[str, None] = {}
    for term in terms:
        stripped = term.strip()
        if stripped:
            seen.setdefault(stripped, None)
    return tuple(seen)


class VocabularyFiles:
    """Vocabulary files, read once and again only when they change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[Path, tuple[tuple[int, int, int], tuple[str, ...]]] = {}

    def terms(self, path: Path) -> tuple[str, ...]:
        """Return the terms in ``path``; a file that cannot be read keeps its last terms.

        Raises:
            OSError: the file cannot be read and never could.
        """
        try:
            status = os.stat(path)
            key = (status.st_mtime_ns, status.st_size, status.st_ino)
            with self._lock:
                known = self._known.get(path)
            if known is not None and known[0] == key:
                return known[1]
            terms = parse_terms(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            with self._lock:
                known = self._known.get(path)
            if known is None:
                raise
            log.warning("vocabulary_unreadable", file=str(path), error=str(exc), kept=len(known[1]))
            return known[1]
        with self._lock:
            self._known[path] = (key, terms)
        if known is not None:
            log.info("vocabulary_reread", file=str(path), terms=len(terms))
        return terms


#: The one cache of vocabulary files (the daemon's and ``dropscribe transcribe``'s).
FILES = VocabularyFiles()


def resolve_words(vocabulary: list[str] | str, prompt: str | None) -> Words:
    """Return the words of a ``vocabulary`` (terms, or a file's path) and ``prompt``."""
    if isinstance(vocabulary, str):
        terms = FILES.terms(Path(vocabulary)) if vocabulary else ()
    else:
        terms = unique_terms(vocabulary)
    return Words(terms, prompt.strip() if prompt and prompt.strip() else None)
