"""The README stands alone and documents every configuration key in a table."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from dropscribe.backends import registry
from dropscribe.config import (
    BackendsSettings,
    FolderOverride,
    RemoteSettings,
    Settings,
)

README = Path(__file__).parent.parent / "README.md"
REMOTE = "backends.<remote>"


def documented_keys(text: str) -> dict[str, set[str]]:
    """Return the keys in the first column of each table, by the section its heading names."""
    documented: dict[str, set[str]] = {}
    sections: list[str] = []
    for line in text.splitlines():
        if line.startswith("#") and not line.startswith("#!"):
            sections = [
                re.sub(r'^folders\."[^"]*"$', "folders", name)
                for name in re.findall(r"`\[([^\]]+)\]`", line)
            ]
            named = re.match(r"^### `(\w+)`:", line)
            if not sections and named and named.group(1) in registry.NAMES:
                sections = [f"backends.{named.group(1)}"]
        elif line.startswith("| `") and sections:
            for key in re.findall(r"`([\w.]+)`", line.split("|")[1]):
                section, _, name = key.rpartition(".")
                for target in [section] if section else sections:
                    documented.setdefault(target, set()).add(name)
    return documented


def expected_keys() -> dict[str, set[str]]:
    """Return every settings key, by section; keys shared by remote backends once."""
    expected: dict[str, set[str]] = {"folders": set(FolderOverride.model_fields)}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if not isinstance(annotation, type) or annotation is BackendsSettings:
            continue
        if issubclass(annotation, BaseModel):
            expected[name] = set(annotation.model_fields)
    shared = set(RemoteSettings.model_fields)
    expected[REMOTE] = shared
    for name, field in BackendsSettings.model_fields.items():
        section = field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        own = set(section.model_fields)
        expected[f"backends.{name}"] = own - shared if issubclass(section, RemoteSettings) else own
    return expected


def test_every_settings_key_has_a_row_in_its_sections_table() -> None:
    documented = documented_keys(README.read_text())
    missing = [
        f"[{section}] {key}"
        for section, keys in expected_keys().items()
        for key in sorted(keys - documented.get(section, set()))
    ]
    assert missing == [], "keys without a README table row: " + ", ".join(missing)


def test_the_readme_stands_alone() -> None:
    text = README.read_text()
    assert "DESIGN.md" not in text and "../shared" not in text
    assert "## Contents" in text and "## Troubleshooting" in text


def github_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_every_contents_link_leads_to_a_heading() -> None:
    text = README.read_text()
    headings = {
        github_anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"^#{2,6} ", line)
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert sorted(links - headings) == []


def test_every_command_line_option_is_in_the_readme() -> None:
    import argparse

    from dropscribe.commands.cli import build_parser

    parser = build_parser()
    section = README.read_text().split("## Command line")[1].split("\n## ")[0]
    options = {"--version"}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= {o for a in sub._actions for o in a.option_strings if o.startswith("--")}
    options -= {"--help"}
    assert sorted(o for o in options if o not in section) == []


def test_the_quick_start_drops_a_file_that_exists() -> None:
    quick = README.read_text().split("## Quick start")[1].split("\n## ")[0]
    dropped = re.findall(r"^cp (\S+) inbox/", quick, flags=re.MULTILINE)
    assert dropped and all((README.parent / name).is_file() for name in dropped)
