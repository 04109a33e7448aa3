"""SIGTERM, SIGINT and SIGHUP turned into events, installed before anything else starts.

``dropscribe run`` installs them first thing, so a SIGTERM during start-up (while
the model loads, the store opens, the inbox is scanned) is a clean stop with exit
0, not a death by the signal. First SIGTERM or SIGINT: ``stop`` is set and the
daemon finishes what it holds. Second: exit at once (the store is consistent at
every commit, so nothing is lost).

A Python signal handler runs in the main thread between two instructions,
possibly inside ``wake.clear()`` or ``Event.wait`` with the event's lock held:
setting the event there deadlocked the daemon (seen once in CI: SIGTERM, then
silence). So the handlers do nothing; the interpreter writes each signal's
number to a pipe (``set_wakeup_fd``) and a thread of its own acts on it.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType


class StopSignals:
    """The process's stop and reload requests, as events."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        #: Set after every signal, to wake a sleeping main loop (the daemon hands its own).
        self.wake = threading.Event()
        self._stops = 0

    def install(self) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, _noted_by_the_signal_thread)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        threading.Thread(
            target=self._loop, args=(read_end,), daemon=True, name="dropscribe-signals"
        ).start()

    def _loop(self, read_end: int) -> None:
        while True:
            for number in os.read(read_end, 64):
                if number == signal.SIGHUP:
                    self.reload.set()
                elif number in (signal.SIGTERM, signal.SIGINT):
                    self._stops += 1
                    if self._stops > 1:
                        os.write(2, b"second signal: exiting now\n")
                        os._exit(0)
                    self.stop.set()
                self.wake.set()


_installed: StopSignals | None = None
_installing = threading.Lock()


def install() -> StopSignals:
    """Install the handlers once (from the main thread) and return their events."""
    global _installed
    with _installing:
        if _installed is None:
            _installed = StopSignals()
            _installed.install()
        return _installed


def _noted_by_the_signal_thread(_number: int, _frame: FrameType | None) -> None:
    """Nothing to do here: the signal thread reads the number from the wakeup pipe."""
