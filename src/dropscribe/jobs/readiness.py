"""Whether the machine is ready for work: its disks and its inbox, not the files.

A full, read-only or failing disk under the outbox, the archive, the failed folder
or the store (:func:`~dropscribe.errors.local_fault`), too little free space, or an
inbox that went away are the machine's trouble, like a server that is down: the
work waits and no file fails for it. This object is where the job threads, intake
and the main loop note such trouble and ask whether to go on. Each episode is
logged once when it begins and once when it ends; its sentence is what ``status``,
the systemd status text and the metrics show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("dropscribe.readiness")

#: The first wait after a disk fault, doubled per failed retry up to the cap: a disk
#: that is fixed is noticed within the cap (well inside a minute).
FAULT_BASE_SECONDS = 1.0
FAULT_MAX_SECONDS = 15.0


@dataclass(frozen=True)
class _Fault:
    """One disk fault episode: what failed, since when, and when to try again."""

    sentence: str
    where: str
    since: float
    until: float
    tries: int


def fault_sentence(where: str, fault: str) -> str:
    """Return the one sentence for a disk fault met while writing ``where``."""
    return (
        f"The machine is not ready: writing {where} failed ({fault}); the work waits and "
        "goes on by itself once the disk is fixed (free space, remount it read-write)."
    )


class Readiness:
    """The machine's state as the daemon's parts see it; safe across threads."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._fault: _Fault | None = None
        self._low_space: str | None = None
        self._inbox: str | None = None
        #: Looks at the inbox now and returns why it is unavailable, or None (set by the
        #: daemon, which owns the inbox's watch).
        self.inbox_probe: Callable[[], str | None] | None = None

    # --- disk faults ------------------------------------------------------------

    def disk_failed(self, where: str, fault: str) -> float:
        """Note that writing ``where`` failed with ``fault``; return when to try again.

        The first failure of an episode is logged; the later ones only push the next
        try back (exponentially, up to :data:`FAULT_MAX_SECONDS`).
        """
        now = self.clock()
        with self._lock:
            previous = self._fault
            tries = 1 if previous is None else previous.tries + 1
            delay = float(min(FAULT_MAX_SECONDS, FAULT_BASE_SECONDS * 2 ** (tries - 1)))
            sentence = fault_sentence(where, fault)
            since = now if previous is None else previous.since
            self._fault = _Fault(sentence, where, since, now + delay, tries)
        if previous is None:
            log.warning("machine_not_ready", where=where, error=fault, reason=sentence)
        return now + delay

    def disk_ok(self, where: str | None = None) -> None:
        """A write went through: a disk fault episode, if one was on, is over; with
        ``where``, only a fault met writing there (the store's success says nothing of
        the outbox)."""
        with self._lock:
            ended = self._fault
            if ended is None or (where is not None and where != ended.where):
                return
            self._fault = None
        log.info("machine_ready", seconds=round(self.clock() - ended.since, 1))

    def may_write(self, now: float | None = None) -> bool:
        """Return whether to try writing now: no disk fault, or its next try is due."""
        with self._lock:
            fault = self._fault
        return fault is None or (self.clock() if now is None else now) >= fault.until

    def retry_at(self) -> float | None:
        """Return when a disk fault's next try is due, or None without a fault."""
        with self._lock:
            return None if self._fault is None else self._fault.until

    # --- free space and the inbox (the main loop sets them) ---------------------

    def set_low_space(self, sentence: str | None) -> None:
        """Set (or clear, with None) the sentence saying free space is too low."""
        with self._lock:
            before, self._low_space = self._low_space, sentence
        if sentence is not None and before is None:
            log.warning("low_disk_space", reason=sentence)
        elif sentence is None and before is not None:
            log.info("disk_space_ok")

    def set_inbox(self, sentence: str | None) -> None:
        """Set (or clear, with None) the sentence saying the inbox is unavailable."""
        with self._lock:
            before, self._inbox = self._inbox, sentence
        if sentence is not None and before is None:
            log.warning("inbox_unavailable", reason=sentence)
        elif sentence is None and before is not None:
            log.info("inbox_available")

    def inbox_unavailable_now(self) -> bool:
        """Return whether the inbox is unavailable, looking at it now when a probe is set
        (a job thread asks before failing a file it cannot find)."""
        probe = self.inbox_probe
        if probe is not None:
            self.set_inbox(probe())
        return self.inbox_problem is not None

    @property
    def inbox_problem(self) -> str | None:
        with self._lock:
            return self._inbox

    def may_take_work(self, now: float | None = None) -> bool:
        """Return whether to take new files and start queued jobs."""
        with self._lock:
            calm = self._low_space is None and self._inbox is None
        return calm and self.may_write(now)

    def problems(self) -> list[str]:
        """Return the sentences of everything that holds work back now (empty: ready)."""
        with self._lock:
            found = [self._fault.sentence] if self._fault is not None else []
            found += [s for s in (self._low_space, self._inbox) if s is not None]
        return found
