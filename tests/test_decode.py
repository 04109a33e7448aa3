"""Decoding untrusted media (audio/decode.py) on real files: containers, tracks, hostile headers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.decode import PIECE_SECONDS, MediaReader, decode_file, open_media
from dropscribe.errors import BadInput
from tests.helpers import AUDIO
from tests.hostile_media import (
    flac_with_total_samples,
    long_silent_flac,
    mp3_with_lying_xing_header,
    wav_at_8_hz,
)

WEATHER_SECONDS = 4.63


@pytest.mark.parametrize(
    "name", ["weather.mp4", "weather.m4v", "weather.mov", "weather.webm", "weather.avi"]
)
def test_the_audio_track_of_each_video_container_is_decoded(name: str) -> None:
    decoded = decode_file(AUDIO / name, 3600)
    assert decoded.duration == pytest.approx(WEATHER_SECONDS, abs=0.1)
    assert decoded.choice.reason == "the only audio track"
    assert decoded.samples.dtype.name == "float32" and abs(decoded.samples).max() > 0.1


def test_the_track_marked_default_wins_over_the_first() -> None:
    # two_tracks.mkv: numbers (French tag, not default) first, weather (English, default).
    decoded = decode_file(AUDIO / "two_tracks.mkv", 3600)
    assert decoded.choice.track.position == 1 and decoded.choice.track.language == "en"
    assert decoded.choice.reason == "the track marked default"
    assert decoded.duration == pytest.approx(WEATHER_SECONDS, abs=0.1)


@pytest.mark.parametrize("wanted", [0, "fr", "fra", "fre"])
def test_audio_track_picks_a_track_by_number_or_language(wanted: int | str) -> None:
    from dropscribe.config.audio_track import parse_audio_track

    decoded = decode_file(AUDIO / "two_tracks.mkv", 3600, parse_audio_track(wanted))
    assert decoded.choice.track.position == 0 and not decoded.choice.fallback
    assert decoded.duration == pytest.approx(3.49, abs=0.1)  # numbers.wav's length


@pytest.mark.parametrize("wanted", [5, "de"])
def test_a_track_the_file_lacks_falls_back_to_the_rule_and_says_so(wanted: int | str) -> None:
    decoded = decode_file(AUDIO / "two_tracks.mkv", 3600, wanted)
    assert decoded.choice.track.position == 1 and decoded.choice.fallback
    assert decoded.choice.reason.endswith("the track marked default")
    assert str(wanted) in decoded.choice.reason


def test_a_video_without_sound_is_one_clear_sentence() -> None:
    with pytest.raises(BadInput) as caught:
        decode_file(AUDIO / "silent_video.mp4", 3600)
    message = str(caught.value)
    assert message == (
        "The file holds no audio track (it has video), so there is nothing to transcribe; "
        "check that the recording was made with sound."
    )


def test_a_symbolic_link_is_never_opened(tmp_path: Path) -> None:
    link = tmp_path / "link.wav"
    link.symlink_to(AUDIO / "weather.wav")
    with pytest.raises(BadInput, match="symbolic link"):
        decode_file(link, 3600)
    with pytest.raises(BadInput, match="directory"):
        decode_file(tmp_path, 3600)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="not a regular file"):
        decode_file(fifo, 3600)  # and it does not wait for a writer


def test_pieces_are_bounded_even_when_a_low_sample_rate_expands_the_audio(
    tmp_path: Path,
) -> None:
    # 100 s at 8 Hz: 1.6 KB of file, 1.6 million samples once resampled to 16 kHz.
    path = wav_at_8_hz(tmp_path / "low.wav", 100)
    with open_media(path) as source, MediaReader(source, 3600) as reader:
        lengths = [len(piece) for piece in reader.pieces()]
    assert sum(lengths) == pytest.approx(100 * SAMPLE_RATE, rel=0.01)
    assert max(lengths) <= PIECE_SECONDS * SAMPLE_RATE


@pytest.mark.parametrize(
    "make",
    [
        lambda d: wav_at_8_hz(d / "four_hours.wav", 4 * 3600),
        lambda d: wav_at_8_hz(d / "streamed.wav", 4 * 3600, data_size=0xFFFFFFFF),
        lambda d: mp3_with_lying_xing_header(d / "xing.mp3"),
        lambda d: flac_with_total_samples(d / "huge.flac", (1 << 36) - 1),
    ],
    ids=["wav-8hz-4h", "wav-size-unknown", "mp3-lying-xing", "flac-huge-total"],
)
def test_a_header_claiming_more_than_the_limit_is_refused_before_decoding(
    tmp_path: Path, make: object
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with open_media(path) as source, pytest.raises(BadInput, match="by its header, more than"):
        MediaReader(source, 600)


def test_decoding_stops_at_the_limit_when_no_header_tells_the_length(tmp_path: Path) -> None:
    # An hour of audio whose FLAC header says "length unknown".
    path = flac_with_total_samples(
        tmp_path / "unknown.flac", 0, source=long_silent_flac(tmp_path / "hour.flac", 3600)
    )
    with open_media(path) as source, MediaReader(source, 60) as reader:
        assert reader.claim.file_seconds is None
        decoded = 0
        with pytest.raises(BadInput, match="decoding stopped there"):
            for piece in reader.pieces():
                decoded += len(piece)
    assert decoded <= 60 * SAMPLE_RATE


def test_a_truncated_file_is_told_apart_from_a_short_one(tmp_path: Path) -> None:
    cut = tmp_path / "cut.wav"
    cut.write_bytes((AUDIO / "weather.wav").read_bytes()[:60_000])
    with pytest.raises(BadInput, match=r"truncated: its header promises 4\.6 s"):
        decode_file(cut, 3600)
    # A video whose picture outlasts its sound is not truncated (mp4: 5 s of video).
    assert decode_file(AUDIO / "weather.mp4", 3600).duration < 5


def test_undecodable_bytes_and_an_empty_file_get_their_own_sentences(tmp_path: Path) -> None:
    noise = tmp_path / "noise.mkv"
    noise.write_bytes(os.urandom(20_000))
    with pytest.raises(BadInput, match="could not be decoded as audio"):
        decode_file(noise, 3600)
    empty = wav_at_8_hz(tmp_path / "empty.wav", 0)
    with pytest.raises(BadInput, match="no audio samples"):
        decode_file(empty, 3600)


def test_a_file_of_zero_bytes_says_it_is_empty_when_decoded(tmp_path: Path) -> None:
    """A retried or one-shot empty file reads the intake's sentence, not PyAV's errno."""
    zero = tmp_path / "empty.mp3"
    zero.write_bytes(b"")
    with pytest.raises(BadInput, match=r"^The file is empty \(0 bytes\)"):
        decode_file(zero, 3600)


def test_the_sample_buffer_grows_as_needed_but_never_past_the_limit() -> None:
    import numpy as np

    from dropscribe.audio.pieces import SampleBuffer

    buffer = SampleBuffer(expected=4, limit=10)
    for value in range(3):
        buffer.append(np.full(3, value, dtype=np.float32))
    assert buffer.samples().tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="full"):
        buffer.append(np.zeros(2, dtype=np.float32))
