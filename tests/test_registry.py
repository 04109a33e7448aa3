"""Configuration's list of backend names, its sections and the registry's implementations agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dropscribe.backends import registry
from dropscribe.config import BackendsSettings, load_settings
from dropscribe.config.backends import remote_sections
from dropscribe.config.sections import BACKEND_NAMES
from dropscribe.errors import ConfigError
from tests.helpers import write_config


def test_every_backend_has_a_settings_section_and_every_section_a_backend() -> None:
    assert list(BackendsSettings.model_fields) == list(registry.NAMES)
    assert BACKEND_NAMES == registry.NAMES


def test_every_secret_key_and_required_key_is_a_field_of_its_section() -> None:
    for name, section in remote_sections().items():
        keys = [section.secret_key, section.address_key, *section.required_keys]
        for key in filter(None, keys):
            assert key in section.model_fields, (name, key)
    assert set(remote_sections()) == set(registry.NAMES) - {"local"}


def test_the_transcript_schema_allows_exactly_the_registered_backends() -> None:
    schema = Path(registry.__file__).parent.parent / "schema" / "transcript.schema.json"
    text = json.loads(schema.read_text())
    enum = text["properties"]["engine"]["properties"]["backend"]["enum"]
    assert enum == list(registry.NAMES)


def test_an_unknown_backend_in_the_config_names_the_known_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"transcribe": {"backend": "whisperx"}})
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    (problem,) = caught.value.problems
    assert problem.startswith("transcribe.backend: ")
    assert "'whisperx'" in problem and "local, octoai, runpod, replicate, openai" in problem


def test_a_backend_is_imported_only_when_it_is_created(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, {}))
    backend = registry.create_backend("replicate", settings)
    try:
        assert type(backend).__name__ == "ReplicateBackend"
    finally:
        backend.close()
    with pytest.raises(KeyError):
        registry.create_backend("whisperx", settings)
