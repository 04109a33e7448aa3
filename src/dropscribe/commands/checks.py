"""``dropscribe check``: what is wrong with this setup and how to fix it.

It loads the configuration as ``run`` does, then tries what ``run`` would
need: the folders, the GPU, the model, every endpoint a file may be sent to.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx

from dropscribe.backends.registry import create_backend
from dropscribe.commands.checks_local import check_local
from dropscribe.commands.checks_words import check_words
from dropscribe.commands.program import program_name
from dropscribe.config import SECRET_KEYS, RemoteSettings, Settings, inbox_problem
from dropscribe.config.originals import archive_folder
from dropscribe.inbox.watcher import choose_mode
from dropscribe.service.features import diarization_in_force, metrics_in_force
from dropscribe.speakers.runner import setup_problem as speakers_setup_problem

Say = Callable[[str], None]

PROBE_TIMEOUT = 10.0


def startup_problems(settings: Settings) -> list[str]:
    """Return what stops ``run`` before it starts: the inbox, a backend's missing keys."""
    problems = []
    if (problem := inbox_problem(settings.paths)) is not None:
        problems.append(problem)
    for name in settings.backend_names():
        problems += missing_keys(name, settings)
    return problems


def missing_keys(name: str, settings: Settings) -> list[str]:
    """Return one line per key the backend ``name`` needs but has no value for."""
    section = settings.backend_settings(name)
    if not isinstance(section, RemoteSettings):
        return []
    required = list(section.required_keys)
    if section.secret_needed_when_hosted and section.secret_key is not None:
        hosted = type(section).model_fields["base_url"].default
        if getattr(section, "base_url", None) == hosted:
            required.append(section.secret_key)
    problems = []
    for key in required:
        if getattr(section, key):
            continue
        variable = f"DROPSCRIBE_BACKENDS__{name.upper()}__{key.upper()}"
        where = (
            f"in {variable} or a systemd credential named {name}_{key}"
            if SECRET_KEYS.get(name) == key
            else f"in the config or {variable}"
        )
        problems.append(
            f"backends.{name}.{key}: missing; the {name} backend needs it: set it {where}"
        )
    return problems


def _writable_dir(path: Path) -> bool:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def _check_directories(settings: Settings, say: Say) -> list[str]:
    paths = settings.paths
    problems = []
    directories = {
        "inbox": paths.inbox,
        "outbox": paths.outbox,
        "failed": paths.failed,
        "state": paths.state.parent,
    }
    archive = archive_folder(paths)
    if archive is not None:
        directories["archive"] = archive
    for key, directory in directories.items():
        if key == "inbox" and inbox_problem(paths) is not None:
            continue  # startup_problems says why
        if not _writable_dir(directory):
            problems.append(
                f"paths.{key}: {directory} is not writable by this user; fix its "
                "owner or permissions (see the README's troubleshooting section)"
            )
        elif not directory.exists():
            say(f"paths.{key}: {directory} does not exist yet; '{program_name()} run' creates it")
        else:
            say(f"paths.{key}: {directory} ok")
    say(f"paths.originals: {paths.originals}")
    return problems


def _answers(url: str, verify: bool) -> str | None:
    """Return why ``url`` does not answer, or None: any HTTP answer, even 404, will do."""
    try:
        httpx.get(url, timeout=PROBE_TIMEOUT, verify=verify)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"{url} does not answer ({exc or type(exc).__name__}); is the server up?"
    return None


def _check_remote(name: str, settings: Settings) -> list[str]:
    backend = create_backend(name, settings)
    try:
        found = backend.check()
    finally:
        backend.close()
    section = settings.backend_settings(name)
    address_key = section.address_key if isinstance(section, RemoteSettings) else None
    if not found and address_key and not getattr(section, "health_url", None):
        # Without a health URL the backend's own check asks nothing: see that it answers.
        address = str(getattr(section, address_key))
        if (reason := _answers(address, getattr(section, "verify_tls", True))) is not None:
            found.append(reason)
    return found


def _keyed(name: str, problem: str) -> str:
    """Return ``problem`` starting with the key it is about (the backend's, if it names none)."""
    if problem.startswith(("backends.", "transcribe.", "folders.")):
        return problem
    return f"backends.{name}: {problem}"


def run_checks(
    settings: Settings, say: Say, source: str = "--config", config_path: Path | None = None
) -> list[str]:
    """Check what ``run`` would need; report what is fine through ``say``, return problems."""
    say(f"config: {config_path} is valid (from {source})")
    problems = startup_problems(settings)
    problems += _check_directories(settings, say)
    mode, why = choose_mode(settings.watch.mode, settings.paths.inbox)
    say(f"watch: {mode} ({why})")
    say(f"speaker labels (transcribe.diarize): {diarization_in_force(settings)}")
    say(f"metrics (service.metrics_port): {metrics_in_force(settings)}")
    for name in settings.backend_names():
        if missing_keys(name, settings):
            continue  # already said; asking a server without them would only add noise
        found = check_local(settings, say) if name == "local" else _check_remote(name, settings)
        problems += [_keyed(name, problem) for problem in found]
        if not found:
            say(f"backends.{name}: ok")
    check_words(settings, say)
    if (speakers := speakers_setup_problem(settings)) is not None:
        problems.append(speakers)
    return problems
