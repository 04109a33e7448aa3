"""Which audio track of a file is transcribed: the rule, and the ``audio_track`` setting.

Video containers often hold several audio tracks (dubbed languages, a
commentary, a silent placeholder). The rule: the track the setting names,
else the track marked default, else the first. The choice and its reason are
logged, so a surprising transcript can be traced to the track it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dropscribe.config.audio_track import AUTO, AudioTrackSetting
from dropscribe.errors import BadInput


@dataclass(frozen=True)
class TrackInfo:
    """One audio track as the container describes it."""

    #: Position among the file's audio tracks, from 0 (what ``audio_track = 1`` names).
    position: int
    #: The language the container tags it with, as a short code ("fr"), if any.
    language: str | None
    default: bool
    codec: str


@dataclass(frozen=True)
class TrackChoice:
    track: TrackInfo
    #: How many audio tracks the file has.
    count: int
    #: Why this one, in words ("the track marked default", "audio_track = 1").
    reason: str
    #: The setting named a track this file (of several) does not have, so the rule chose.
    fallback: bool = False

    def log_fields(self) -> dict[str, object]:
        """Return the choice as fields of a log event."""
        return {
            "track": self.track.position,
            "tracks": self.count,
            "track_language": self.track.language,
            "codec": self.track.codec,
            "reason": self.reason,
            "fallback": self.fallback,
        }


def no_audio(kinds: Sequence[str]) -> BadInput:
    """Return the error for a file without audio; ``kinds`` are its streams' types."""
    found = " and ".join(sorted(set(kinds))) or "no streams at all"
    return BadInput(
        f"The file holds no audio track (it has {found}), so there is nothing to "
        "transcribe; check that the recording was made with sound."
    )


def choose_track(tracks: Sequence[TrackInfo], wanted: AudioTrackSetting) -> TrackChoice:
    """Return the track to transcribe and why.

    A setting that names no track of this file falls back to the rule (a folder
    may mix recordings with and without that track), and the reason says so.

    Raises:
        BadInput: the file has no audio track at all.
    """
    if not tracks:
        raise no_audio([])
    count = len(tracks)
    missed = ""
    if isinstance(wanted, int):
        if wanted < count:
            return TrackChoice(tracks[wanted], count, f"audio_track = {wanted}")
        missed = f"audio_track = {wanted} names no track of this file; "
    elif wanted != AUTO:
        for track in tracks:
            if track.language == wanted:
                return TrackChoice(track, count, f'audio_track = "{wanted}"')
        missed = f'no track is in language "{wanted}" (audio_track); '
    # With one track there was nothing to choose: not worth telling.
    fallback = bool(missed) and count > 1
    if count == 1:
        return TrackChoice(tracks[0], 1, missed + "the only audio track", fallback)
    for track in tracks:
        if track.default:
            return TrackChoice(track, count, missed + "the track marked default", fallback)
    first = "the first track (none is marked default)"
    return TrackChoice(tracks[0], count, missed + first, fallback)
