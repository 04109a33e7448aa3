"""Reading the settings: the TOML file, variables, systemd credentials, and path checks.

A list in a variable is either comma-separated (``txt,srt``) or a JSON array
(``["txt", "srt"]``); a table is JSON. Relative paths are relative to the
configuration file's directory. Secrets (``token``, ``api_key``) may also come
from ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) as a file named
``<backend>_<key>``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from dropscribe.config.backends import secret_keys
from dropscribe.config.environment import ENV_PREFIX, UnreadableVariable, variable_for
from dropscribe.config.originals import archive_folder
from dropscribe.config.sections import PathsSettings
from dropscribe.config.settings import Settings
from dropscribe.config.vocabulary import FILES
from dropscribe.errors import ConfigError, remember_secret

SECRET_KEYS = secret_keys()


def load_settings(path: Path | None) -> Settings:
    """Read and validate the configuration.

    Raises:
        ConfigError: with one line per problem (key, bad value, what is allowed).
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(
                [f"config: {path} does not exist; pass --config with an existing TOML file"]
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"config: {path} is not valid TOML ({exc})"]) from None
        base = path.resolve().parent
    try:
        settings = _load_credentials(_anchor_paths(Settings(**data), base))
    except ValidationError as exc:
        environ = dict(os.environ)
        raise ConfigError([_describe(error, environ) for error in exc.errors()]) from None
    except UnreadableVariable as exc:
        name = variable_for(exc.key, exc.value, dict(os.environ))
        raise ConfigError(
            [
                f"{name}: cannot read {exc.value!r}: give a list as comma-separated words "
                '(txt,srt) or a JSON array (["txt", "srt"]), a table as a JSON object'
            ]
        ) from None
    problems = check_paths(settings) + vocabulary_problems(settings)
    if problems:
        raise ConfigError(problems)
    _remember_secrets(settings)
    return settings


def _remember_secrets(settings: Settings) -> None:
    """Have every error and log line scrub the configured secrets (a server may echo one)."""
    for backend, key in SECRET_KEYS.items():
        secret = getattr(getattr(settings.backends, backend), key)
        if secret is not None:
            remember_secret(secret.get_secret_value())


def _describe(error: Any, environ: dict[str, str]) -> str:
    """One line for one problem; a value that came from a variable names the variable
    first (a mistyped variable is no key of the file)."""
    loc = [str(part) for part in error["loc"]]
    variable = variable_of(loc, environ)
    if variable is None:
        return _problem(error)
    if error["type"] == "extra_forbidden":
        return (
            f"{variable}: unknown setting {'.'.join(loc)}; correct the variable's name or "
            "remove it (the settings are listed in config.example.toml and the README)"
        )
    return f"{variable}: {_problem(error)}"


def variable_of(loc: list[str], environ: dict[str, str]) -> str | None:
    """Return the ``DROPSCRIBE_`` variable that set the key at ``loc`` (or a table or list
    holding it), if one did: variables override the file, so it is where the value is from."""
    names = {name.upper(): name for name in environ}
    for length in range(len(loc), 0, -1):
        wanted = ENV_PREFIX + "__".join(loc[:length]).upper()
        if wanted in names:
            return names[wanted]
    return None


def _problem(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"])
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling in config.example.toml"
    if error["type"] == "missing":
        return f"{key}: required but missing"
    if error["type"] == "value_error":
        reason = str(error["ctx"]["error"])
        return reason if reason.startswith(key + ".") else f"{key}: {reason}"
    return f"{key}: bad value {value!r}: {error['msg']}"


def _anchor_paths(settings: Settings, base: Path) -> Settings:
    """Return ``settings`` with relative paths made absolute against ``base``."""
    paths = settings.paths
    anchored = {
        key: (base / getattr(paths, key)).resolve()
        for key in ("inbox", "outbox", "failed", "state", "archive")
        if getattr(paths, key) is not None
    }
    backends = settings.backends
    local = backends.local
    if local.model.startswith((".", "/")):
        local = local.model_copy(update={"model": str((base / local.model).resolve())})
    return _anchor_vocabularies(
        settings.model_copy(
            update={
                "paths": paths.model_copy(update=anchored),
                "backends": backends.model_copy(update={"local": local}),
            }
        ),
        base,
    )


def _anchor_vocabularies(settings: Settings, base: Path) -> Settings:
    """Return ``settings`` with vocabulary files made absolute against ``base``."""

    def anchored(section: Any) -> Any:
        vocabulary = section.vocabulary
        if not isinstance(vocabulary, str) or not vocabulary:
            return section
        return section.model_copy(update={"vocabulary": str((base / vocabulary).resolve())})

    folders = {name: anchored(folder) for name, folder in settings.folders.items()}
    return settings.model_copy(
        update={"transcribe": anchored(settings.transcribe), "folders": folders}
    )


def vocabulary_files(settings: Settings) -> dict[str, str]:
    """Return every vocabulary file named in the settings, by the key that names it."""
    found = {}
    if isinstance(settings.transcribe.vocabulary, str) and settings.transcribe.vocabulary:
        found["transcribe.vocabulary"] = settings.transcribe.vocabulary
    for name, folder in settings.folders.items():
        if isinstance(folder.vocabulary, str) and folder.vocabulary:
            found[f'folders."{name}".vocabulary'] = folder.vocabulary
    return found


def vocabulary_problems(settings: Settings) -> list[str]:
    """Return one line per vocabulary file that cannot be read."""
    problems = []
    for key, file in vocabulary_files(settings).items():
        try:
            FILES.terms(Path(file))
        except OSError as exc:
            problems.append(
                f"{key}: cannot read {file} ({exc.strerror or exc}); give a file with one "
                'term a line, or a list of terms (vocabulary = ["Dashwood", "Norland"])'
            )
    return problems


def _load_credentials(settings: Settings) -> Settings:
    """Return ``settings`` with secrets missing from the file taken from
    ``$CREDENTIALS_DIRECTORY``, where systemd puts them."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return settings
    sections = {}
    for backend, key in SECRET_KEYS.items():
        section = getattr(settings.backends, backend)
        candidate = Path(directory) / f"{backend}_{key}"
        if getattr(section, key) is None and candidate.is_file():
            secret = SecretStr(candidate.read_text().strip())
            sections[backend] = section.model_copy(update={key: secret})
    if not sections:
        return settings
    backends = settings.backends.model_copy(update=sections)
    return settings.model_copy(update={"backends": backends})


def inbox_problem(paths: PathsSettings) -> str | None:
    """Return why the daemon must not start with this inbox, or None.

    A missing inbox is created only when its parent exists: creating a mistyped
    path with all its parents would watch a folder nobody drops files into.
    """
    inbox = paths.inbox
    if inbox.is_dir():
        return None
    if inbox.exists():
        return f"paths.inbox: {inbox} is not a directory; point paths.inbox at a folder"
    if inbox.parent.is_dir():
        return None
    return (
        f"paths.inbox: {inbox} does not exist and neither does its parent {inbox.parent}; "
        "correct the path, or create the folder (mkdir -p) if it is the right one"
    )


def check_paths(settings: Settings) -> list[str]:
    """Return one line per directory that overlaps the inbox in a way that loops."""
    paths = settings.paths
    problems = []
    others = {"paths.outbox": paths.outbox, "paths.failed": paths.failed}
    archive = archive_folder(paths)
    if archive is not None:
        others["paths.archive"] = archive
    for key, other in others.items():
        if other == paths.inbox or other.is_relative_to(paths.inbox):
            problems.append(
                f"{key}: bad value '{other}': it is inside the inbox '{paths.inbox}', so "
                "dropscribe would transcribe its own output; choose a directory outside it"
            )
        elif paths.inbox.is_relative_to(other):
            problems.append(
                f"{key}: bad value '{other}': it contains the inbox '{paths.inbox}'; "
                "choose a directory beside the inbox instead"
            )
    if paths.state.is_relative_to(paths.inbox):
        problems.append(
            f"paths.state: bad value '{paths.state}': the job store must not be inside the inbox"
        )
    return problems
