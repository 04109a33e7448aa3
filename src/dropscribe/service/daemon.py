"""``dropscribe run``: wires the parts together and runs the main loop.

Signals are events (``service/signals.py``, installed before anything starts);
the loop does the work. First SIGTERM or SIGINT: stop taking work, hand back
what is in hand, exit 0. Second: exit at once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import structlog

from dropscribe import __version__
from dropscribe.backends.base import Backend
from dropscribe.config import CurrentSettings, PathsSettings, Settings, load_settings
from dropscribe.config.originals import archive_folder
from dropscribe.errors import ConfigError
from dropscribe.inbox.intake import Intake
from dropscribe.inbox.presence import InboxPresence
from dropscribe.inbox.watcher import InboxWatcher
from dropscribe.jobs.completion import Finisher
from dropscribe.jobs.dispatcher import Dispatcher
from dropscribe.jobs.failures import where_is
from dropscribe.jobs.readiness import Readiness
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Store
from dropscribe.outbox.hooks import HookCommands, Hooks
from dropscribe.outbox.writer import Outbox, Sidecars
from dropscribe.service import signals
from dropscribe.service.daemon_lock import DaemonLock, lock_path
from dropscribe.service.features import diarization_in_force, metrics_in_force
from dropscribe.service.machine import MachineWatch
from dropscribe.service.main_loop import MainLoop
from dropscribe.service.notify import Notifier
from dropscribe.service.reload import ReloadPlan, plan_reload

log = structlog.get_logger("dropscribe.daemon")


class _Stoppable(Protocol):
    def stop(self) -> None: ...


#: Seconds the daemon waits for jobs to hand back their work on shutdown.
SHUTDOWN_GRACE = 5.0
STATUS_EVERY = 2.0


def prepare_directories(settings: Settings) -> None:
    paths = settings.paths
    # Never the inbox's parents: a mistyped inbox must fail (config.inbox_problem), not appear.
    paths.inbox.mkdir(exist_ok=True)
    for directory in (paths.outbox, paths.failed, paths.state.parent):
        directory.mkdir(parents=True, exist_ok=True)
    archive = archive_folder(paths)
    if archive is not None:
        archive.mkdir(parents=True, exist_ok=True)


#: Jobs looked at to tell whether any waits for a file in the inbox.
WAITING_SAMPLE = 50


def waiting_on_inbox(store: Store, paths: PathsSettings) -> int:
    """Return how many jobs (of the oldest few queued or in hand) wait for a file in the
    inbox: a job retried from the failed folder reads its original there, so an empty
    inbox is no sign of a share gone away for it."""
    states = [JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING]
    jobs = store.jobs(states, limit=WAITING_SAMPLE)
    return sum(1 for job in jobs if where_is(paths, job)[0] == paths.inbox)


def status_line(counts: dict[str, int], in_flight: int) -> str:
    waiting = counts["queued"] + counts["discovered"]
    return (
        f"waiting {waiting}, in flight {in_flight}, done {counts['done']}, "
        f"failed {counts['failed']}, duplicates {counts['skipped']}"
    )


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        config_path: Path | None = None,
        program: str = "dropscribe",
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        backends: dict[str, Backend] | None = None,
        stops: signals.StopSignals | None = None,
    ) -> None:
        """Build nothing yet; ``stops`` are the process's signal events (``run_daemon``
        installs them: a constructor changes no process-wide state)."""
        #: The one reference to the settings in force; components read it per job.
        self.current = CurrentSettings(settings)
        #: The file a reload reads again (not a setting: where the settings came from).
        self.config_path = config_path
        #: The daemon's own command, as it was run: the error sidecars' retry line names it.
        self.program = program
        self.early_backends = backends or {}
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.signals = stops or signals.StopSignals()
        self.wake = self.signals.wake
        self.stop_requested = self.signals.stop
        self.reload_requested = self.signals.reload
        self._last_ping = 0.0

    @property
    def settings(self) -> Settings:
        return self.current.get()

    def build(self) -> None:
        """Create the store, the outbox, the hooks, the finisher, the dispatcher and intake."""
        settings = self.settings
        prepare_directories(settings)
        self.store = Store(settings.paths.state, clock=self.clock)
        #: The machine's disks and inbox, as every part sees them (service/machine.py).
        self.readiness = Readiness(self.clock)
        # Both read the settings in force at each batch or hook run: a reload swaps the
        # settings and assigns nothing into them while finisher threads use them.
        self.outbox = Outbox(
            settings.paths.outbox,
            current=lambda: Sidecars.of(self.current.get()),
        )
        self.hooks = Hooks(current=lambda: HookCommands.from_settings(self.current.get().service))
        self.finisher = Finisher(
            settings,
            self.store,
            self.outbox,
            self.hooks,
            config_path=self.config_path,
            program=self.program,
        )
        self.dispatcher = Dispatcher(
            self.current.get,
            self.store,
            self.finisher,
            self.clock,
            self.wake,
            backends=self.early_backends,
            readiness=self.readiness,
        )
        self.intake = Intake(
            self.current.get,
            self.store,
            self.finisher,
            self.dispatcher.fingerprint,
            self.clock,
            self._heartbeat,
            self.readiness,
        )
        store = self.store
        paths = settings.paths
        presence = InboxPresence(paths.inbox, lambda: waiting_on_inbox(store, paths))
        self.machine = MachineWatch(self.readiness, presence, self.current.get)

    def run(self) -> int:
        settings = self.settings
        prepare_directories(settings)
        # Held until the end: `dropscribe status` tells from it whether a daemon runs.
        daemon_lock = DaemonLock.acquire(lock_path(settings.paths), __version__, self.clock())
        self.build()
        self.machine.lock = daemon_lock
        watcher = InboxWatcher(
            settings.paths.inbox,
            self.intake.filter,
            settings.watch.mode,
            settings.watch.poll_seconds,
            self.wake,
        )
        metrics = self._start(watcher)
        loop = MainLoop(
            self.current.get,
            self.clock,
            watcher,
            self.intake,
            self.dispatcher,
            self.machine,
            self.readiness,
            self._heartbeat,
        )
        loop.scan()
        self._loop(loop)
        self._shutdown(watcher, metrics)
        daemon_lock.release()
        self.notifier.close()
        log.info("stopped")
        return 0

    def _start(self, watcher: InboxWatcher) -> _Stoppable | None:
        """Recover what the last run left, start the watcher and say ready; return the
        metrics server, if one was asked for."""
        settings, dispatcher = self.settings, self.dispatcher
        archive = archive_folder(settings.paths)
        removed = self.outbox.remove_temporaries(
            settings.paths.failed, *([archive] if archive else [])
        )
        metrics = start_metrics(settings, self.store, dispatcher, self.finisher, self.machine)
        log.info(
            "starting",
            inbox=str(settings.paths.inbox),
            outbox=str(settings.paths.outbox),
            backend=settings.transcribe.backend,
            diarize=diarization_in_force(settings),
            metrics=metrics_in_force(settings),
            removed_temporaries=removed,
        )
        dispatcher.warm_up()
        dispatcher.recover()
        self.intake.recover()
        watcher.start()
        # Ready once the store and the watcher are up: files already waiting are
        # scanned afterwards, with heartbeats, however many there are.
        self.machine.look()
        line = status_line(self.store.counts(), dispatcher.in_flight())
        self.notifier.ready(self.machine.status(line))
        log.info("ready")
        return metrics

    def _loop(self, loop: MainLoop) -> None:
        """Turn the main loop until a stop is asked for."""
        last_status = 0.0
        while not self.stop_requested.is_set():
            loop.turn(self.clock())
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload()
            self._heartbeat()
            monotonic = time.monotonic()
            if monotonic - last_status >= STATUS_EVERY:
                line = status_line(self.store.counts(), self.dispatcher.in_flight())
                self.notifier.status(self.machine.status(line))
                last_status = monotonic
            self.wake.wait(loop.sleep_time(self.notifier.watchdog_interval))
            self.wake.clear()

    def _shutdown(self, watcher: InboxWatcher, metrics: _Stoppable | None) -> None:
        """Stop taking work, hand back what is in hand, close what is open."""
        log.info("stopping", in_flight=self.dispatcher.in_flight())
        self.notifier.stopping()
        watcher.stop()
        ended = self.dispatcher.stop(SHUTDOWN_GRACE)
        if metrics is not None:
            metrics.stop()
        if ended:  # else the process exit closes it: a job thread may still write
            self.store.close()

    def _heartbeat(self) -> None:
        """Ping the service watchdog when half its interval has passed."""
        interval = self.notifier.watchdog_interval
        now = time.monotonic()
        if interval is not None and now - self._last_ping >= interval:
            self.notifier.ping()
            self._last_ping = now

    def _reload(self) -> None:
        try:
            self.reload()
        except ConfigError as exc:
            log.error("reload_failed", problems=exc.problems)

    def reload(self) -> ReloadPlan:
        """SIGHUP: read the configuration again; put what can change live in force and
        name the rest (see :mod:`dropscribe.service.reload`).

        Raises:
            ConfigError: the new configuration is invalid; the old one stays in force.
        """
        plan = plan_reload(self.settings, load_settings(self.config_path))
        settings = plan.settings
        self.current.swap(settings)  # the outbox and the hooks read it at their next use
        from dropscribe.service import logs

        logs.configure(settings.log.level, settings.log.format)
        log.info("reloaded", applied=plan.applied, needs_restart=plan.needs_restart)
        return plan


def start_metrics(
    settings: Settings,
    store: Store,
    dispatcher: Dispatcher,
    finisher: Finisher,
    machine: MachineWatch,
) -> _Stoppable | None:
    """Start the metrics server, if ``service.metrics_port`` asks for one, and return it."""
    if not settings.service.metrics_port:
        return None
    from dropscribe.service.metrics import Metrics, MetricsServer

    metrics = Metrics(store)
    metrics.watch(dispatcher)
    metrics.watch_machine(machine)
    finisher.on_finish = metrics.job_finished
    server = MetricsServer(settings.service, metrics)
    server.start()
    return server


def run_daemon(
    settings: Settings,
    backends: dict[str, Backend] | None = None,
    *,
    config_path: Path | None = None,
    program: str = "dropscribe",
) -> int:
    """Run the daemon; ``backends`` are engines already started (the local one warms early);
    ``config_path`` is read again on SIGHUP."""
    try:
        stops = signals.install()  # first: a SIGTERM from now on is a clean stop
        daemon = Daemon(
            settings, config_path=config_path, program=program, backends=backends, stops=stops
        )
        return daemon.run()
    except KeyboardInterrupt:
        return 0
    finally:
        sys.stderr.flush()
