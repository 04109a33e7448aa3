"""The progress bar of ``dropscribe transcribe``, and log lines that never print over it.

The bar shows the position in the audio as the engine reports it. Log lines
(one JSON object or a readable line each) go through ``tqdm.write`` while a
bar is drawn, so they appear above it instead of in the middle of it. On a
terminal that reports no size (a fresh pseudo-terminal, some CI runners) the
bar is 80 columns wide rather than absent.
"""

from __future__ import annotations

import shutil
import sys
from typing import Never, TextIO

from tqdm import tqdm

from dropscribe.backends.base import Pending

#: The size assumed when the terminal does not say (0 columns, 0 rows).
FALLBACK_SIZE = (80, 24)


def bar_size() -> tuple[int, int]:
    """Return tqdm's ``ncols`` and ``nrows``: the terminal's, or 80 by 24 where it reports
    none (tqdm then hides every bar: none fits in 0 rows)."""
    columns, rows = shutil.get_terminal_size(FALLBACK_SIZE)
    return columns or FALLBACK_SIZE[0], rows or FALLBACK_SIZE[1]


class BarSafeStream:
    """A text stream for the log that writes each whole line with ``tqdm.write``, which
    clears the bars, prints the line and draws them again below it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            tqdm.write(line, file=self.stream)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


class AudioBar:
    """A bar on a terminal, drawn once the audio's duration is known, full at the end."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.bar: tqdm[Never] | None = None
        self.duration = 0.0

    def __enter__(self) -> AudioBar:
        return self

    def __exit__(self, failed: object, *exc: object) -> None:
        if self.bar is not None:
            if failed is None:
                self.bar.n = self.duration  # done: the whole recording
                self.bar.refresh()
            self.bar.close()

    def update(self, pending: Pending) -> None:
        if pending.duration and self.bar is None and self.stream.isatty():
            self.duration = pending.duration
            columns, rows = bar_size()
            self.bar = tqdm(
                total=self.duration,
                desc=self.label,
                unit="s",
                leave=True,
                file=self.stream,
                ncols=columns,
                nrows=rows,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s audio",
            )
        if self.bar is not None and pending.position is not None:
            self.bar.n = min(pending.position, self.duration)
            self.bar.refresh()
