"""The program every worker process runs: ``python -m dropscribe.workers.child module:function``.

It ties the worker's life to the daemon's (:mod:`.lifetime`), leaves Ctrl-C
to the daemon (the terminal sends it to the whole process group; the daemon
decides when its workers stop), caps the address space when told, then
imports ``module`` and calls ``function(channel)`` with the
:class:`~dropscribe.workers.channel.Channel` to the daemon. Nothing else is
imported first: not the command line, not the settings (pydantic).

The channel gets the pipes the daemon opened on stdin and stdout; stdout
itself is pointed at stderr, so that whatever a library prints cannot pass
for a message.

Options: ``--parent PID`` (end when that process is gone), ``--memory-mb N``
(0: no cap), ``--with-thread`` (also be killed at once when the daemon's
thread that started us ends: for a worker that thread waits on).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

from dropscribe.workers.channel import Channel
from dropscribe.workers.lifetime import die_with_the_starting_thread, limit_memory, watch_parent


def main(argv: list[str]) -> int:
    """Run the worker ``argv`` names; return its exit status."""
    target, options = argv[0], argv[1:]
    parent = int(_option(options, "--parent", "0"))
    if "--with-thread" in options:
        die_with_the_starting_thread()
    if parent:
        watch_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_memory(int(_option(options, "--memory-mb", "0")))
    channel = _take_stdio()
    module, _, name = target.partition(":")
    work = getattr(importlib.import_module(module), name)
    status = work(channel)
    return int(status or 0)


def _option(options: list[str], name: str, default: str) -> str:
    return options[options.index(name) + 1] if name in options else default


def _take_stdio() -> Channel:
    """Return a channel on the daemon's pipes; leave stdin empty and stdout on stderr."""
    reading, writing = os.dup(0), os.dup(1)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    os.close(empty)
    os.dup2(2, 1)
    return Channel(reading, writing)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
