"""SIGHUP in process: new settings are built and swapped in; every key said to apply
live reaches the component that uses it, and the rest waits for a restart."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from dropscribe.backends.base import Backend, Failed, Future, Outcome
from dropscribe.config import Settings, Words, load_settings
from dropscribe.errors import ConfigError, Retryable
from dropscribe.jobs.retry_policy import RetryRules
from dropscribe.jobs.states import JobState
from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.hooks import HookCommands
from dropscribe.outbox.writer import Sidecars
from dropscribe.service.daemon import Daemon
from dropscribe.service.reload import LIVE, plan_reload
from tests.dispatch_rig import ManualClock
from tests.fake_backend import FakeBackend
from tests.helpers import write_config

BEFORE: dict[str, dict[str, object]] = {"transcribe": {"backend": "local"}}
AFTER: dict[str, dict[str, object]] = {
    "transcribe": {
        "backend": "openai",
        "language": "fr",
        "task": "translate",
        "formats": ["json", "txt"],
        "max_attempts": 7,
        "retry_base_seconds": 1000.0,
        "retry_max_seconds": 4000.0,
        "transient_budget_seconds": 60.0,
        "max_file_bytes": 5000,
        "max_duration_seconds": 42.0,
        "cue_line_chars": 30,
        "cue_lines": 1,
        "cue_min_seconds": 0.5,
        "cue_max_seconds": 5.0,
        "cue_chars_per_second": 12.0,
        "vocabulary": ["Dashwood"],
        "prompt": "A reading.",
    },
    "service": {
        "on_done": ["/bin/true"],
        "on_failed": ["/bin/false"],
        "hook_timeout_seconds": 9,
        "min_free_mb": 10**12,  # more than any disk has: the next look finds space low
    },
    "log": {"level": "error", "format": "console"},
}


def live_keys() -> list[str]:
    keys = []
    for section, names in LIVE.items():
        model = getattr(Settings.model_fields[section].annotation, "model_fields", {})
        keys += [f"{section}.{key}" for key in (names or model)]
    return keys


def failing(_future: Future) -> Outcome:
    return Failed(Retryable("worker crashed"))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Path, FakeBackend]]:
    config = write_config(tmp_path, BEFORE)
    remote = FakeBackend("openai", on_poll=failing)
    backends: dict[str, Backend] = {"local": FakeBackend("local"), "openai": remote}
    clock = ManualClock()
    remote.clock = clock
    made = Daemon(load_settings(config), config_path=config, clock=clock, backends=backends)
    made.build()
    yield made, config, remote
    made.dispatcher.stop(1.0)
    made.store.close()
    structlog.reset_defaults()


def test_the_test_changes_every_key_said_to_apply_live() -> None:
    changed = [f"{section}.{key}" for section, values in AFTER.items() for key in values]
    assert sorted(changed) == sorted(live_keys())


def test_every_live_key_reaches_its_component(
    daemon: tuple[Daemon, Path, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    running, config, remote = daemon
    old = running.settings
    snapshot = old.model_dump()
    outbox_before, hooks_before = dict(vars(running.outbox)), dict(vars(running.hooks))
    write_config(config.parent, {**AFTER, "watch": {"poll_seconds": 7}})
    plan = running.reload()
    assert sorted(plan.applied) == sorted(live_keys())
    assert plan.needs_restart == ["watch.poll_seconds"]
    new = running.settings
    assert new is not old and new.watch == old.watch  # the restart-only key stays as it was
    assert old.model_dump() == snapshot  # nothing was changed in place
    # Sidecar formats and hooks: read from the settings in force at their next use; the
    # reload assigned nothing into the components finisher threads are using.
    assert vars(running.outbox) == outbox_before and vars(running.hooks) == hooks_before
    sidecars = running.outbox.current()
    assert sidecars == Sidecars(("json", "txt"), CueRules.from_settings(new.transcribe))
    assert sidecars.cue_rules.line_chars == 30
    assert running.hooks.current() == HookCommands(("/bin/true",), ("/bin/false",), 9)
    # The logger: set up again at the reload.
    capsys.readouterr()
    structlog.get_logger("test").warning("hidden")
    structlog.get_logger("test").error("shown")
    err = capsys.readouterr().err
    assert "shown" in err and "hidden" not in err  # log.level = "error"
    assert not err.startswith("{")  # log.format = "console"
    # Intake reads backend, language, task and max_file_bytes for each file it takes.
    inbox, clock = new.paths.inbox, running.clock
    assert isinstance(clock, ManualClock)
    # "RIFF": text would be refused at intake as no recording.
    (inbox / "small.wav").write_bytes(b"RIFF" + b"x" * 96)
    (inbox / "big.wav").write_bytes(b"RIFF" + b"x" * 5996)
    for name in ("small.wav", "big.wav"):
        running.intake.look(name, clock())
    clock.advance(5)
    running.intake.process_due(clock())
    small, big = sorted(running.store.jobs(), key=lambda job: job.path, reverse=True)
    assert (small.backend, small.language, small.task) == ("openai", "fr", "translate")
    assert big.state == JobState.FAILED and "transcribe.max_file_bytes" in (big.error or "")
    # The request carries the duration limit in force; the retry policy reads its rules.
    running.dispatcher.pump(clock())
    while running.dispatcher.in_flight():
        running.wake.wait(0.05)
        running.wake.clear()
    assert [request.max_duration_seconds for request in remote.requests] == [42.0]
    assert [request.words for request in remote.requests] == [Words(("Dashwood",), "A reading.")]
    retried = running.store.get(small.id)
    assert retried.state == JobState.QUEUED
    assert 500 <= retried.next_attempt_at - clock() <= 1000  # retry_base_seconds = 1000
    # The free-space limit, read by the machine watch at its next look (last: low space
    # stops new work).
    assert running.readiness.problems() == []
    running.machine.look()
    assert any("service.min_free_mb" in p for p in running.readiness.problems())
    rules = RetryRules.from_settings(running.dispatcher.settings().transcribe)
    assert (rules.max_attempts, rules.max_seconds, rules.transient_budget_seconds) == (7, 4000, 60)


def test_a_bad_configuration_leaves_the_settings_in_force(
    daemon: tuple[Daemon, Path, FakeBackend],
) -> None:
    running, config, _remote = daemon
    before = running.settings
    config.write_text("[watch]\nmode = 'sometimes'\n")
    with pytest.raises(ConfigError):
        running.reload()
    assert running.settings is before


def test_plan_reload_takes_live_keys_and_names_the_rest(tmp_path: Path) -> None:
    old = load_settings(write_config(tmp_path))
    new = load_settings(
        write_config(
            tmp_path,
            {
                "transcribe": {"max_attempts": 9},
                "service": {"metrics_port": 9999, "on_done": ["x"]},
                "backends.local": {"model": "base.en"},
                "folders.calls": {"language": "de"},
            },
        )
    )
    plan = plan_reload(old, new)
    assert plan.applied == ["transcribe.max_attempts", "service.on_done"]
    assert plan.needs_restart == ["folders", "backends.local", "service.metrics_port"]
    assert plan.settings.transcribe.max_attempts == 9
    assert plan.settings.service.metrics_port == old.service.metrics_port
    assert plan.settings.backends == old.backends and plan.settings.folders == old.folders


def test_building_a_daemon_leaves_the_process_signal_handlers_alone(tmp_path: Path) -> None:
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    made = Daemon(load_settings(write_config(tmp_path, BEFORE)), backends={})
    made.build()
    try:
        after = {number: signal.getsignal(number) for number in before}
        assert after == before
    finally:
        made.dispatcher.stop(1.0)
        made.store.close()
