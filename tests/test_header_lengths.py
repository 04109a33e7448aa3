"""A recording's length from its headers alone (the duration of a file sent to a
remote engine as it is): what a decoder counts, or nothing."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from dropscribe.audio.headers import header_seconds
from tests.helpers import AUDIO


def decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def opus_of(source: Path, target: Path) -> Path:
    with av.open(str(source)) as given, av.open(str(target), "w", format="ogg") as written:
        stream = written.add_stream("libopus", rate=48000)
        for frame in given.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                written.mux(packet)
        for packet in stream.encode(None):
            written.mux(packet)
    return target


@pytest.mark.parametrize(
    "name", ["numbers.wav", "fox.wav", "french.flac", "long_reading.flac", "weather.mp3"]
)
def test_a_header_that_states_the_length_gives_what_a_decoder_counts(name: str) -> None:
    with (AUDIO / name).open("rb") as stream:
        assert header_seconds(stream) == pytest.approx(decoded_seconds(AUDIO / name), abs=0.001)


def test_an_ogg_opus_length_is_its_last_granule(tmp_path: Path) -> None:
    opus = opus_of(AUDIO / "weather.wav", tmp_path / "weather.opus")
    with opus.open("rb") as stream:
        assert header_seconds(stream) == pytest.approx(decoded_seconds(opus), abs=0.01)


@pytest.mark.parametrize("name", ["weather.mp4", "weather.webm", "two_tracks.mkv", "fox.txt"])
def test_a_header_that_states_nothing_gives_nothing(name: str) -> None:
    with (AUDIO / name).open("rb") as stream:
        assert header_seconds(stream) is None


def test_a_truncated_header_gives_nothing(tmp_path: Path) -> None:
    for name in ("numbers.wav", "french.flac", "weather.mp3"):
        cut = tmp_path / name
        cut.write_bytes((AUDIO / name).read_bytes()[:30])
        with cut.open("rb") as stream:
            assert header_seconds(stream) is None, name
