from __future__ import annotations

from pathlib import Path

import pytest

from dropscribe.commands.cli import main
from dropscribe.commands.discovery import find_config
from dropscribe.config import inbox_problem, load_settings
from dropscribe.config.originals import archive_folder, originals_fate
from dropscribe.errors import ConfigError


def test_defaults_and_relative_paths_are_anchored_at_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "d.toml"
    config.parent.mkdir()
    config.write_text('[paths]\ninbox = "in"\noutbox = "../out"\n')
    settings = load_settings(config)
    assert settings.paths.inbox == tmp_path / "conf" / "in"
    assert settings.paths.outbox == tmp_path / "out"
    assert settings.paths.state == tmp_path / "conf" / "state" / "dropscribe.sqlite3"
    assert settings.transcribe.backend == "local"
    assert settings.transcribe.formats == ["json", "txt", "srt", "vtt"]


def test_environment_variables_override_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[transcribe]\nlanguage = "fr"\n[backends.openai]\nmodel = "a"\n')
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__LANGUAGE", "de")
    monkeypatch.setenv("DROPSCRIBE_BACKENDS__OPENAI__MODEL", "b")
    settings = load_settings(config)
    assert settings.transcribe.language == "de"
    assert settings.backends.openai.model == "b"


def test_an_empty_archive_keeps_originals_in_place(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[paths]\narchive = ""\n')
    assert load_settings(config).paths.archive is None


def test_every_bad_key_is_named_with_its_value_and_what_is_allowed(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text(
        '[watch]\nmode = "sometimes"\nsettle_seconds = -1\n[transcribe]\nbakend = "x"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("watch.mode" in p and "'sometimes'" in p and "'polling'" in p for p in problems)
    assert any("watch.settle_seconds" in p and "-1" in p for p in problems)
    assert any("transcribe.bakend" in p and "unknown key" in p for p in problems)


def test_an_outbox_inside_the_inbox_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[paths]\ninbox = "in"\noutbox = "in/out"\nfailed = "."\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert any(
        p.startswith("paths.outbox") and "inside the inbox" in p for p in caught.value.problems
    )
    assert any(
        p.startswith("paths.failed") and "contains the inbox" in p for p in caught.value.problems
    )


def test_secrets_come_from_the_systemd_credentials_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "octoai_token").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_settings(None)
    token = settings.backends.octoai.token
    assert token is not None and token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_folder_overrides_merge_from_outer_to_inner(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text(
        '[folders."calls"]\nlanguage = "en"\nbackend = "openai"\n'
        '[folders."calls/fr"]\nlanguage = "fr"\n'
    )
    settings = load_settings(config)
    inner = settings.folder_override("calls/fr/a.wav")
    assert (inner.backend, inner.language) == ("openai", "fr")
    assert settings.folder_override("other/a.wav").backend is None


def test_the_command_line_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[transcribe]\nbackend = "nope"\nmax_attempts = 0\n')
    assert main(["check", "--config", str(config)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("dropscribe: transcribe.backend: bad value 'nope'")


def test_a_missing_config_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "expected"),
    [("txt", ["txt"]), ("txt, srt", ["txt", "srt"]), ('["json", "vtt"]', ["json", "vtt"])],
)
def test_a_list_variable_is_comma_separated_or_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__FORMATS", value)
    monkeypatch.setenv("DROPSCRIBE_WATCH__IGNORE", "*.part,draft-*")
    settings = load_settings(None)
    assert settings.transcribe.formats == expected
    assert settings.watch.ignore == ["*.part", "draft-*"]


def test_an_unreadable_variable_is_one_line_naming_it_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "d.toml"
    config.write_text("")
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__FORMATS", '["txt", ')
    assert main(["check", "--config", str(config)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("dropscribe: DROPSCRIBE_TRANSCRIBE__FORMATS: cannot read")


def test_a_bad_item_in_a_list_variable_names_the_key_and_the_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__FORMATS", "txt,pdf")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.problems[0].startswith(
        "DROPSCRIBE_TRANSCRIBE__FORMATS: transcribe.formats.1: bad value 'pdf'"
    )


def test_a_mistyped_variable_is_reported_by_its_name_not_as_a_key_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "d.toml"
    config.write_text("[watch]\nsettle_seconds = 1.0\n")
    monkeypatch.setenv("DROPSCRIBE_WATCH__SETLE_SECONDS", "3")
    monkeypatch.setenv("DROPSCRIBE_WATCH__MODE", "sometimes")
    assert main(["check", "--config", str(config)]) == 2
    lines = sorted(capsys.readouterr().err.strip().splitlines())
    assert lines[0] == (
        "dropscribe: DROPSCRIBE_WATCH__MODE: watch.mode: bad value 'sometimes': "
        "Input should be 'auto', 'events' or 'polling'"
    )
    assert lines[1].startswith(
        "dropscribe: DROPSCRIBE_WATCH__SETLE_SECONDS: unknown setting watch.setle_seconds; "
    )
    assert "config.example.toml" in lines[1] and "remove it" in lines[1]


def test_the_config_is_searched_in_the_documented_order(tmp_path: Path) -> None:
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    user = home / ".config" / "dropscribe" / "config.toml"
    user.parent.mkdir(parents=True)
    cwd.mkdir()
    user.write_text("")
    found = find_config(None, {}, cwd, home)
    assert found is not None and (found.path, found.source) == (
        user,
        "~/.config/dropscribe/config.toml",
    )
    (cwd / "config.toml").write_text("")
    found = find_config(None, {}, cwd, home)
    assert found is not None and found.source == "./config.toml"
    (cwd / "dropscribe.toml").write_text("")
    found = find_config(None, {}, cwd, home)
    assert found is not None and found.path == cwd / "dropscribe.toml"
    named = tmp_path / "elsewhere.toml"
    found = find_config(None, {"DROPSCRIBE_CONFIG": str(named)}, cwd, home)
    assert found is not None and (found.path, found.source) == (named, "DROPSCRIBE_CONFIG")
    found = find_config(named, {"DROPSCRIBE_CONFIG": "x"}, cwd, home)
    assert found is not None and found.source == "--config"


def test_language_codes_are_checked_and_names_become_codes(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[transcribe]\nlanguage = "klingon"\n[folders."x"]\nlanguage = "elvish"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems[0].startswith(
        "transcribe.language: 'klingon' is not a language Whisper knows"
    )
    assert caught.value.problems[1].startswith("folders.x.language: 'elvish'")
    config.write_text('[transcribe]\nlanguage = "French"\n')
    assert load_settings(config).transcribe.language == "fr"


def test_an_empty_archive_with_originals_archive_written_out_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[paths]\narchive = ""\noriginals = "archive"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.problems == [
        'paths.archive is "" but paths.originals = "archive": name an archive folder, '
        'or set originals = "keep"'
    ]
    config.write_text('[paths]\narchive = ""\n')
    assert originals_fate(load_settings(config).paths) == "keep"


def test_a_missing_inbox_is_refused_unless_its_parent_exists(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[paths]\ninbox = "recordings/inbox"\n')
    problem = inbox_problem(load_settings(config).paths)
    assert problem is not None and "neither does its parent" in problem
    (tmp_path / "recordings").mkdir()
    assert inbox_problem(load_settings(config).paths) is None


def test_the_settings_hold_the_originals_keys_as_written_and_one_place_reads_them(
    tmp_path: Path,
) -> None:
    config = tmp_path / "d.toml"
    config.write_text('[paths]\narchive = ""\n')
    paths = load_settings(config).paths
    # The config does not rewrite the default into "keep": outbox/originals.py decides.
    assert (paths.originals, paths.archive) == ("archive", None)
    assert (originals_fate(paths), archive_folder(paths)) == ("keep", None)
    config.write_text('[paths]\narchive = ""\noriginals = "delete"\n')
    assert originals_fate(load_settings(config).paths) == "delete"
