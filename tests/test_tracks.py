"""The audio track rule and the audio_track setting, as pure functions and as configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from dropscribe.audio.tracks import TrackInfo, choose_track
from dropscribe.config import load_settings
from dropscribe.config.audio_track import parse_audio_track
from dropscribe.errors import BadInput, ConfigError
from tests.helpers import write_config


def track(position: int, language: str | None = None, default: bool = False) -> TrackInfo:
    return TrackInfo(position, language, default, "aac")


def test_without_a_default_track_the_first_is_chosen() -> None:
    choice = choose_track([track(0, "en"), track(1, "fr")], "auto")
    assert (
        choice.track.position == 0 and choice.reason == "the first track (none is marked default)"
    )


def test_the_first_track_marked_default_is_chosen() -> None:
    tracks = [track(0), track(1, default=True), track(2, default=True)]
    assert choose_track(tracks, "auto").track.position == 1


def test_a_number_or_a_language_names_the_track() -> None:
    tracks = [track(0, "en", default=True), track(1, "fr"), track(2, "de")]
    assert choose_track(tracks, 2).track.position == 2
    assert choose_track(tracks, "fr").reason == 'audio_track = "fr"'


def test_no_track_at_all_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no audio track"):
        choose_track([], "auto")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("auto", "auto"),
        ("AUTO", "auto"),
        (0, 0),
        ("2", 2),
        ("fra", "fr"),
        ("fre", "fr"),
        ("en-GB", "en"),
        ("ger", "de"),
    ],
)
def test_the_setting_accepts_auto_a_number_or_a_language_tag(value: object, parsed: object) -> None:
    assert parse_audio_track(value) == parsed


@pytest.mark.parametrize("value", [-1, True, "not a language", "xx-bogus!", 1.5])
def test_the_setting_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValueError):
        parse_audio_track(value)


def test_audio_track_in_the_config_file_and_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, {"transcribe": {"audio_track": "fra"}})
    assert load_settings(config).transcribe.audio_track == "fr"
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__AUDIO_TRACK", "1")
    assert load_settings(config).transcribe.audio_track == 1
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__AUDIO_TRACK", "first one")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "transcribe.audio_track" in str(caught.value)


def test_a_setting_that_misses_on_a_single_track_file_is_not_a_fallback_worth_telling() -> None:
    choice = choose_track([track(0)], "fr")
    assert choice.track.position == 0 and not choice.fallback
    assert choice.reason == 'no track is in language "fr" (audio_track); the only audio track'
    assert choose_track([track(0, "en"), track(1, "de")], "fr").fallback
