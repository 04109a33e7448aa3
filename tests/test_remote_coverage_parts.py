"""The pure parts of the remote coverage pass: the speech kept beside uploads, the
coverage chunks a stretch becomes, and words moved to the recording's clock."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dropscribe.audio.speech_files import (
    read_speech,
    rename_with_speech,
    speech_path,
    within,
    write_speech,
)
from dropscribe.jobs.chunking.coverage import heard_speech, pieces, shifted
from dropscribe.jobs.states import ChunkState
from dropscribe.jobs.store.chunks import Chunk
from dropscribe.transcript import make_segment
from dropscribe.transcript.coverage import MARGIN_SECONDS


def chunk(idx: int, start: float, end: float, keep: tuple[float, float], path: str) -> Chunk:
    return Chunk(
        start, end, keep[0], keep[1], path, 0, job_id=1, idx=idx, plan="opus:1:600",
        state=ChunkState.DONE, attempts=1, future=None, result=None, error=None,
    )  # fmt: skip


def test_the_speech_beside_an_upload_is_kept_read_back_and_renamed_with_it(
    tmp_path: Path,
) -> None:
    upload = tmp_path / "part-0003.ogg"
    upload.write_bytes(b"ogg")
    assert speech_path(upload).name == "part-0003.speech.json"
    assert read_speech(upload) is None  # none kept: the pass skips that chunk
    write_speech(upload, [(0.1234, 1.5), (2.0, 3.25)])
    assert read_speech(upload) == [(0.123, 1.5), (2.0, 3.25)]
    renamed = tmp_path / "part-0003.0.ogg"
    rename_with_speech(upload, renamed)
    assert read_speech(renamed) == [(0.123, 1.5), (2.0, 3.25)]
    speech_path(renamed).write_text("not json")
    assert read_speech(renamed) is None


def test_a_parts_speech_is_cut_from_the_recordings_on_its_own_clock() -> None:
    speech = [(1.0, 4.0), (9.0, 12.0), (20.0, 21.0)]
    assert within(speech, 3.0, 10.0) == [(0.0, 1.0), (6.0, 7.0)]
    assert within(speech, 13.0, 19.0) == []


def test_chunks_speech_counts_between_their_seams_on_the_recordings_clock(
    tmp_path: Path,
) -> None:
    # Two chunks overlapping by a second around a forced cut at 10 s.
    first = chunk(0, 0.0, 10.5, (0.0, 10.0), "part-0000.ogg")
    second = chunk(1, 9.5, 20.0, (10.0, 20.0), "part-0001.ogg")
    write_speech(tmp_path / first.path, [(8.0, 10.5)])
    write_speech(tmp_path / second.path, [(0.0, 3.0)])
    lost = chunk(2, 20.0, 30.0, (20.0, 30.0), "part-0002.ogg")  # its speech was never kept
    assert heard_speech(tmp_path, [first, second, lost]) == [(8.0, 10.0), (10.0, 12.5)]


def test_a_stretch_becomes_one_chunk_with_margins_or_several_under_the_cap() -> None:
    [one] = pieces((10.0, 14.0), 60.0, 600.0)
    assert (one.start, one.end) == (10.0 - MARGIN_SECONDS, 14.0 + MARGIN_SECONDS)
    assert (one.keep_start, one.keep_end) == (10.0, 14.0)
    [edge] = pieces((0.2, 3.0), 3.2, 600.0)
    assert (edge.start, edge.end) == (0.0, 3.2)  # never outside the recording
    long = pieces((0.0, 25.0), 30.0, 10.0)
    assert len(long) == 3 and all(p.end - p.start <= 10.0 for p in long)
    assert long[0].keep_start == 0.0 and long[-1].keep_end == pytest.approx(25.0)
    assert all(a.keep_end == pytest.approx(b.keep_start) for a, b in itertools.pairwise(long))


def test_a_coverage_chunks_words_move_to_the_recordings_clock() -> None:
    word = {"word": " again", "start": 0.5, "end": 0.9, "score": 0.8, "speaker": None}
    segment = make_segment(" again", 0.5, 0.9, [word])  # type: ignore[list-item]
    [moved] = shifted([segment], 61.25)
    assert (moved["start"], moved["end"]) == (61.75, 62.15)
    assert (moved["words"][0]["start"], moved["words"][0]["end"]) == (61.75, 62.15)
    assert segment["start"] == 0.5  # the chunk's own result is left as it was
