"""``dropscribe check``: what is wrong with this setup and how to fix it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dropscribe.backends.registry import create_backend
from dropscribe.config import Settings
from dropscribe.inbox.watcher import choose_mode


def _writable_dir(path: Path) -> bool:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def run_checks(
    settings: Settings, say: Callable[[str], None], config_path: Path | None = None
) -> list[str]:
    """Check directories and backends; report what is fine through ``say``, return problems."""
    problems = []
    paths = settings.paths
    say(f"config: {config_path.resolve() if config_path else 'defaults (no --config)'} is valid")
    directories = {
        "inbox": paths.inbox,
        "outbox": paths.outbox,
        "failed": paths.failed,
        "state": paths.state.parent,
    }
    if paths.archive is not None and paths.originals == "archive":
        directories["archive"] = paths.archive
    for key, directory in directories.items():
        if not _writable_dir(directory):
            problems.append(
                f"paths.{key}: {directory} is not writable by this user; fix its "
                "owner or permissions (see the README's service section)"
            )
        else:
            say(f"paths.{key}: {directory} ok")
    mode, why = choose_mode(settings.watch.mode, paths.inbox)
    say(f"watch: {mode} ({why})")
    for name in settings.backend_names():
        backend = create_backend(name, settings)
        try:
            found = backend.check()
        finally:
            backend.close()
        if name == "local":
            from dropscribe.backends.local import LocalBackend
            from dropscribe.backends.local_threads import plan_threads, usable_cores

            assert isinstance(backend, LocalBackend)
            say(f"backends.local.model: will load {backend.choice.description}")
            local = settings.backends.local
            plan = plan_threads(local.cpu_threads, local.parallel_decodes, local.workers)
            say(
                f"backends.local: {local.workers} worker(s), each running "
                f"{plan.parallel_decodes} decode(s) at once of {plan.threads_per_decode} "
                f"thread(s) on a CPU ({usable_cores()} cores usable)"
            )
        problems.extend(f"backends.{name}: {problem}" for problem in found)
        if not found:
            say(f"backends.{name}: ok")
    return problems
