"""One turn of the daemon's main loop: look at the machine, take files in, start jobs,
and how long to sleep until the next thing is due.

The daemon (:mod:`dropscribe.service.daemon`) builds the parts and runs the turns;
each step here guards itself, so nothing a file or a disk does can end the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from dropscribe.config import Settings
from dropscribe.errors import local_fault
from dropscribe.inbox.intake import Intake
from dropscribe.inbox.watcher import InboxWatcher
from dropscribe.jobs.dispatcher import Dispatcher
from dropscribe.jobs.readiness import Readiness
from dropscribe.service.machine import MachineWatch

log = structlog.get_logger("dropscribe.daemon")

#: The longest the main loop sleeps with nothing to do.
MAX_IDLE = 1.0


class MainLoop:
    """The main loop's steps, over the parts the daemon built."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        clock: Callable[[], float],
        watcher: InboxWatcher,
        intake: Intake,
        dispatcher: Dispatcher,
        machine: MachineWatch,
        readiness: Readiness,
        heartbeat: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.watcher = watcher
        self.intake = intake
        self.dispatcher = dispatcher
        self.machine = machine
        self.readiness = readiness
        self.heartbeat = heartbeat
        self.next_rescan = clock() + settings().watch.rescan_seconds

    def turn(self, now: float) -> None:
        """Take in what is due and start the jobs that are due."""
        self.take_in(now)
        self.pump(now)

    def take_in(self, now: float) -> None:
        """Look at the machine, then take in what the watcher reported and what is due."""
        intake = self.intake
        try:
            renewed = self.machine.look()
            if renewed:  # the inbox is back, or another folder: watch it, rescan now
                self.watcher.restart()
            for path in self.watcher.drain():
                relative = intake.relative(path)
                if relative is not None:
                    intake.look(relative, now)
            if self.readiness.may_take_work(now):
                intake.process_due(now)
                intake.settle_waiting()
            if now >= self.next_rescan or renewed:
                self.next_rescan = now + self.settings().watch.rescan_seconds
                self.scan()
        except Exception:  # intake guards each file; this is the last net: never exit
            log.exception("intake_error")

    def pump(self, now: float) -> None:
        """Start due jobs; a store that cannot write pauses the work, never the daemon."""
        try:
            self.dispatcher.pump(now)
        except Exception as exc:
            fault = local_fault(exc)
            if fault is None:
                log.exception("dispatch_error")
            else:
                self.readiness.disk_failed("the job store", fault)

    def scan(self) -> None:
        """Look at every file in the inbox (at start, then every ``rescan_seconds``)."""
        started = time.monotonic()
        now = self.clock()
        count = 0
        intake = self.intake
        for entry in self.watcher.scan():
            relative = intake.relative(entry.path)
            if relative is not None:
                intake.look(relative, now)
                count += 1
                if count % 1000 == 0:
                    self.heartbeat()
        if self.readiness.may_take_work(now):
            intake.process_due(now)
        log.info("scanned", files=count, seconds=round(time.monotonic() - started, 3))

    def sleep_time(self, ping: float | None) -> float:
        """Return how long to sleep: until the next file settles, job is due, disk is
        tried again, rescan or watchdog ping, at most :data:`MAX_IDLE`."""
        now = self.clock()
        candidates = [MAX_IDLE, self.next_rescan - now]
        deadlines = (self.intake.tracker.next_deadline(), self.dispatcher.next_due())
        for deadline in (*deadlines, self.readiness.retry_at()):
            if deadline is not None:
                candidates.append(deadline - now)
        if ping is not None:
            candidates.append(ping)
        return max(0.0, min(candidates))
