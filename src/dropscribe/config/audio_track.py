"""The ``audio_track`` setting: which audio track of a file is transcribed.

The rule that applies it to a file's tracks is :mod:`dropscribe.audio.tracks`.
"""

from __future__ import annotations

from dropscribe.languages import normalise_language

#: The setting's value for "apply the rule".
AUTO = "auto"
#: The setting's type: ``"auto"``, an index among the audio tracks, or a language.
AudioTrackSetting = int | str
EXPECTED = 'expected "auto", an audio track number from 0, or a language tag such as "en" or "fra"'


def parse_audio_track(value: object) -> AudioTrackSetting:
    """Return the setting as ``"auto"``, an index, or a short language code.

    Raises:
        ValueError: neither an index, "auto", nor a language tag (for the config error).
    """
    import langcodes

    if isinstance(value, bool):
        raise ValueError(EXPECTED)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("audio tracks are numbered from 0")
        return value
    if not isinstance(value, str):
        raise ValueError(EXPECTED)
    text = value.strip()
    if text.lower() == AUTO:
        return AUTO
    if text.isdigit():
        return int(text)
    language = normalise_language(text) if langcodes.tag_is_valid(text) else None
    if language is None:
        raise ValueError(EXPECTED)
    return language
