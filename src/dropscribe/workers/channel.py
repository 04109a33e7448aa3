"""Messages over a pair of pipes: one JSON object a line (:mod:`.messages`).

Both ends use it: the daemon on a worker's stdin and stdout, the worker on
the same pipes from the other side. Reading is done on the raw descriptor
into a buffer of our own, so that :meth:`Channel.poll` can wait with a
time-out (``select`` on a descriptor says nothing of what a buffered file has
already read), and a line is capped at :data:`MAX_LINE_BYTES`: a worker gone
wrong cannot make the daemon buffer without end.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Sequence
from typing import TypeVar

from dropscribe.workers.messages import MessageError, decode, encode

M = TypeVar("M")
#: The longest message taken: a six-hour transcript with every word is about 10 MB.
MAX_LINE_BYTES = 256 * 2**20
READ_BYTES = 2**16


class Channel:
    """Messages read from ``reading`` and written to ``writing`` (file descriptors)."""

    def __init__(self, reading: int, writing: int, max_line: int = MAX_LINE_BYTES) -> None:
        self.reading, self.writing = reading, writing
        self.max_line = max_line
        self._buffer = bytearray()
        #: How far the buffer is known to hold no newline (a long line is searched once).
        self._searched = 0
        self._ended = False
        self._send_lock = threading.Lock()
        self._closed = False

    def send(self, message: object) -> None:
        """Write one message (from any thread).

        Raises:
            OSError: the other end is gone (ValueError once :meth:`closed`).
        """
        data = memoryview(encode(message) + b"\n")
        with self._send_lock:
            if self._closed:
                raise ValueError("the channel is closed")
            while data:
                data = data[os.write(self.writing, data) :]

    def closed(self) -> None:
        """Send nothing more: the descriptors are about to be closed by their owner
        (a write racing it could land in a file that reuses the number)."""
        with self._send_lock:
            self._closed = True

    def poll(self, timeout: float | None) -> bool:
        """Return whether a message (or the end) is there to read, waiting up to ``timeout``."""
        while not self._ended and self._line_end() < 0:
            ready, _, _ = select.select([self.reading], [], [], timeout)
            if not ready:
                return False
            self._fill()
        return True

    def receive(self, kinds: Sequence[type[M]]) -> M | None:
        """Return the next message, one of ``kinds``; None once the other end has closed.

        Raises:
            MessageError: the line is not such a message, or is too long.
        """
        while (end := self._line_end()) < 0:
            if self._ended:
                if self._buffer:
                    raise MessageError("the stream ended inside a message")
                return None
            self._fill()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._searched = 0
        return decode(line, kinds)

    def _line_end(self) -> int:
        end = self._buffer.find(b"\n", self._searched)
        self._searched = len(self._buffer) if end < 0 else end
        return end

    def _fill(self) -> None:
        try:
            data = os.read(self.reading, READ_BYTES)
        except OSError:  # a reset pipe reads as its end
            data = b""
        if not data:
            self._ended = True
        self._buffer += data
        if len(self._buffer) > self.max_line and self._line_end() < 0:
            raise MessageError(f"a message longer than {self.max_line} bytes")
