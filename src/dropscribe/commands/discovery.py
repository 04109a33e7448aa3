"""Which configuration file a command uses when ``--config`` is not given."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CONFIG = Path("/etc/dropscribe/config.toml")


@dataclass(frozen=True)
class Found:
    """The file chosen, and in words where it came from."""

    path: Path
    source: str


def candidates(environ: Mapping[str, str], cwd: Path, home: Path) -> list[tuple[Path, str]]:
    """Return the places searched, first to last, each with how a person would name it."""
    places: list[tuple[Path, str]] = []
    if environ.get("DROPSCRIBE_CONFIG"):
        places.append((Path(environ["DROPSCRIBE_CONFIG"]), "DROPSCRIBE_CONFIG"))
    places += [
        (cwd / "dropscribe.toml", "./dropscribe.toml"),
        (cwd / "config.toml", "./config.toml"),
        (home / ".config" / "dropscribe" / "config.toml", "~/.config/dropscribe/config.toml"),
        (SYSTEM_CONFIG, str(SYSTEM_CONFIG)),
    ]
    return places


def find_config(
    explicit: Path | None,
    environ: Mapping[str, str],
    cwd: Path,
    home: Path,
) -> Found | None:
    """Return the configuration to use: ``--config``, else the first place that has one.

    ``DROPSCRIBE_CONFIG`` is taken even when its file is missing, so that loading it
    says so rather than silently falling through to another file.
    """
    if explicit is not None:
        return Found(explicit, "--config")
    places = candidates(environ, cwd, home)
    for path, source in places:
        if source == "DROPSCRIBE_CONFIG" or path.is_file():
            return Found(path, source)
    return None


def nothing_found(environ: Mapping[str, str], cwd: Path, home: Path) -> str:
    """Return the one-line refusal when no configuration exists anywhere."""
    searched = ", ".join(source for _, source in candidates(environ, cwd, home))
    return (
        f"no configuration file found (looked for --config, $DROPSCRIBE_CONFIG, {searched}); "
        "copy config.example.toml to one of them or pass --config FILE"
    )
