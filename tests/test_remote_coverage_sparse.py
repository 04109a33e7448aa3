"""The coverage pass on a server that gives segments without word timings (issue 26).

faster-whisper-server 0.0.3 answers ``verbose_json`` with segments and no words, so
a segment counts as covering its whole time, and Whisper stretches one over the
sentence it skipped. The real daemon against a fake OpenAI-compatible server that
answers that way: a segment with far too few words for the speech heard inside it
has that speech sent again, and the words that come back take its place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dropscribe.transcript import make_segment
from dropscribe.transcript.coverage import Recovery, put_back, replace_sparse, sparse_segments
from tests.helpers import DaemonProcess, wait_for
from tests.remote_setup import COMPACT_ALL, TOKEN, remote_config
from tests.servers import OpenAIServer, RemoteJob, Reply, loud_stretches, words_over
from tests.test_daemon import finished
from tests.test_remote_coverage import coverage_events, joined_recording


class WordlessServer(OpenAIServer):
    """POST /v1/audio/transcriptions answered as the OpenAI API reference describes
    ``response_format=verbose_json`` (https://platform.openai.com/docs/api-reference/audio/createTranscription:
    ``task``, ``language``, ``duration``, ``text`` and ``segments`` of ``id``, ``start``,
    ``end``, ``text``, ``tokens``, ``temperature``, ``avg_logprob``,
    ``compression_ratio``, ``no_speech_prob``) but without ``words``, whatever
    ``timestamp_granularities[]`` asks: what faster-whisper-server 0.0.3 sends (its
    ``api.py`` takes no such field and its ``WhisperSegment`` has no words).

    A word every 0.3 s of loud audio, as the speech-following servers of
    tests/servers.py, each named by where it lies in the recording (the first upload;
    a later one, a piece of it, is found in it by its loudness): a piece sent again
    is heard with the same words, as Whisper hears a sentence again. The words
    ``skips`` leaves out are a sentence skipped, and the segment before them is
    stretched over them, as Whisper does (``stretch``); ``cut_short`` gives the
    seconds a segment of the first answer ends before its speech does.
    """

    style = "segments"
    follow_speech = True

    def __init__(self) -> None:
        super().__init__()
        self.token = TOKEN
        self.skipped: dict[str, list[tuple[float, float, str]]] = {}
        self.stretch = True
        self.cut_short: Callable[[dict[str, Any]], float] = lambda _segment: 0.0
        self.recording: list[tuple[float, float]] = []

    def new_job(self, audio: bytes, fields: dict[str, Any]) -> RemoteJob:
        job = super().new_job(audio, fields)
        heard = self.heard(loud_stretches(audio), job.audio_seconds or 0.0)
        skips = self.skips or (lambda _job, _start, _end: False)
        job.spoken = [word for word in heard if not skips(job, word[0], word[1])]
        self.skipped[job.id] = [word for word in heard if skips(job, word[0], word[1])]
        return job

    def heard(
        self, loud: list[tuple[float, float]], seconds: float
    ) -> list[tuple[float, float, str]]:
        """The recording's words in an upload whose loud stretches are ``loud``, on its clock."""
        if not self.recording:
            self.recording = loud
        offset = placed(loud, self.recording)
        words = [
            (start, end, recording_word(start)) for start, end, _ in words_over(self.recording)
        ]
        return [
            (round(start - offset, 3), round(end - offset, 3), name)
            for start, end, name in words
            if offset <= (start + end) / 2 <= offset + seconds
        ]

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        reply = super().handle(method, path, headers, body)
        if reply.status != 200 or not path.startswith("/v1/audio/"):
            return reply
        answer = json.loads(reply.body)
        job = self.submissions[-1]
        skipped = self.skipped[job.id] if self.stretch else []
        segments = answer["segments"]
        for segment, after in zip(segments, [*segments[1:], None][: len(segments)], strict=True):
            until = after["start"] if after else float("inf")
            over = [end for start, end, _ in skipped if segment["end"] <= start < until]
            segment["end"] = max([segment["end"], *over])
            if job is self.submissions[0]:
                segment["end"] -= self.cut_short(segment)
            del segment["words"]
            segment.update(tokens=[50364], temperature=0.0)
        answer["duration"] = job.audio_seconds
        return Reply.json(200, {"task": "transcribe", **answer})


def recording_word(start: float) -> str:
    """The word said at ``start`` in the recording: six letters of no language, alike
    only where the same word is heard again."""
    digest = hashlib.sha256(f"{start:.1f}".encode()).hexdigest()
    return " " + "".join(chr(ord("a") + int(digit, 16)) for digit in digest[:6])


def placed(loud: list[tuple[float, float]], recording: list[tuple[float, float]]) -> float:
    """Where in the recording an upload with the loud stretches ``loud`` begins: the shift
    at which loud and quiet agree the most, in hundredths of a second."""

    def signs(stretches: list[tuple[float, float]]) -> Any:
        length = int(max([end for _, end in stretches], default=0.0) * 100) + 1
        marks = -np.ones(length)
        for start, end in stretches:
            marks[int(start * 100) : int(end * 100)] = 1.0
        return marks

    whole, piece = signs(recording), signs(loud)
    if len(piece) >= len(whole):
        return 0.0
    return float(np.argmax(np.correlate(whole, piece, "valid"))) / 100


def said_in(segments: list[dict[str, Any]], span: tuple[float, float]) -> int:
    """How many words the segments whose middle lies in ``span`` say."""
    return sum(
        len(s["text"].split())
        for s in segments
        if span[0] <= (s["start"] + s["end"]) / 2 <= span[1]
    )


def run_daemon(workdir: Path, server: WordlessServer) -> tuple[dict[str, Any], list[Any]]:
    outbox = workdir / "outbox"
    settings = {**COMPACT_ALL, "recover_speech": True, "concurrency": 1}
    config = remote_config(workdir, "openai", server.url, **settings)
    with DaemonProcess(config) as daemon:
        wait_for(lambda: finished(outbox, "joined"), 60, "the transcript")
        recovered = coverage_events(daemon)
        assert daemon.stop() == 0
    return json.loads((outbox / "joined.json").read_text()), recovered


def test_a_segment_stretched_over_a_skipped_sentence_gets_its_words_back_once(
    workdir: Path,
) -> None:
    """The fox clip skipped, the weather's segment stretched over it: sent again, and
    its words replace that segment's (each clip's words there once)."""
    (workdir / "inbox").mkdir()
    where = joined_recording(workdir / "inbox" / "joined.wav")
    fox = where[1]
    with WordlessServer() as server:
        server.skips = lambda job, start, end: (
            job is server.submissions[0] and fox[0] - 0.2 < start < fox[1]
        )
        document, recovered = run_daemon(workdir, server)
    segments = document["response"]["segments"]
    assert all(not segment["words"] for segment in segments)
    first, again = server.submissions  # the recording, then the stretched segment's speech
    assert again.audio_seconds is not None and again.audio_seconds > fox[1] - fox[0]
    # Every clip has about the words the server hears in it, once: none twice.
    heard = (first.spoken or []) + server.skipped[first.id]
    for span in where:
        expected = sum(1 for start, end, _ in heard if span[0] <= (start + end) / 2 <= span[1])
        assert expected - 2 <= said_in(segments, span) <= expected + 2, (span, segments)
    [event] = recovered
    assert event["sparse_segments"] and event["recovered_words"] > 0
    assert document["warnings"] == []


def test_a_sentence_skipped_again_when_sent_again_is_named_in_the_warnings(
    workdir: Path,
) -> None:
    """The stretched segment is kept as it was, and the transcript says where words may
    be missing instead of passing the skipped sentence over in silence."""
    (workdir / "inbox").mkdir()
    where = joined_recording(workdir / "inbox" / "joined.wav")
    fox = where[1]
    with WordlessServer() as server:
        server.skips = lambda job, start, end: (
            job is not server.submissions[0] or fox[0] - 0.2 < start < fox[1]
        )
        document, recovered = run_daemon(workdir, server)
    assert len(server.submissions) == 2  # sent again once, heard as nothing
    [event] = recovered
    assert event["sparse_segments"] and event["still_sparse"] == event["sparse_segments"]
    assert event["recovered_words"] == 0
    [warning] = document["warnings"]
    assert warning.startswith("Speech at ") and "may be missing words" in warning
    assert warning.endswith("check that part against the audio.")


def said_once(document: dict[str, Any], server: WordlessServer) -> None:
    """The transcript says each word of the recording once, in order: none twice."""
    first = server.submissions[0]
    heard = sorted((first.spoken or []) + server.skipped[first.id])
    assert document["transcription"].split() == [text.strip() for _, _, text in heard]


def test_a_segment_ending_before_its_speech_does_is_not_said_twice(workdir: Path) -> None:
    """Whisper's segment ends 2 s before its speech (its times are whole seconds on
    faster-whisper-server): that speech, without words, is sent again, and its decode
    says the segment's last words again, which the transcript already has."""
    (workdir / "inbox").mkdir()
    weather = joined_recording(workdir / "inbox" / "joined.wav")[0]
    with WordlessServer() as server:
        server.cut_short = ends_before(weather[1], 2.0)
        document, recovered = run_daemon(workdir, server)
    assert len(server.submissions) == 2  # the tail sent again: it had no words
    again = server.submissions[1]
    assert again.spoken, "the piece sent again is heard with the segment's last words"
    said_once(document, server)
    [event] = recovered
    assert event["recovered_words"] == 0 and document["warnings"] == []


def test_a_sentence_skipped_after_a_segment_ending_early_comes_back_once(workdir: Path) -> None:
    """The fox clip skipped and no segment stretched over it, the weather's ending 2 s
    early: the stretch sent again holds the weather's last words and the fox's; only the
    fox's are new, and they come back once."""
    (workdir / "inbox").mkdir()
    weather, fox, _ = joined_recording(workdir / "inbox" / "joined.wav")
    with WordlessServer() as server:
        server.stretch = False
        server.skips = lambda job, start, end: (
            job is server.submissions[0] and fox[0] - 0.2 < start < fox[1]
        )
        server.cut_short = ends_before(weather[1], 2.0)
        document, recovered = run_daemon(workdir, server)
    assert len(server.submissions) == 2
    skipped = server.skipped[server.submissions[0].id]
    assert len(skipped) > 10
    said_once(document, server)
    [event] = recovered
    assert event["recovered_words"] == len(skipped)


def ends_before(clip_end: float, seconds: float) -> Callable[[dict[str, Any]], float]:
    """``cut_short`` for the last segment of a clip ending at ``clip_end``."""
    return lambda segment: seconds if clip_end - 0.5 < segment["end"] < clip_end + 0.5 else 0.0


def test_a_normal_answer_without_word_timings_sends_nothing_again(workdir: Path) -> None:
    """Segments without words but with the words their speech holds are left alone."""
    (workdir / "inbox").mkdir()
    joined_recording(workdir / "inbox" / "joined.wav")
    with WordlessServer() as server:
        document, recovered = run_daemon(workdir, server)
    assert len(server.submissions) == 1
    assert recovered == []
    assert all(not segment["words"] for segment in document["response"]["segments"])
    # Its words, the segments' own, each once: what the server heard, in order.
    [only] = server.submissions
    assert document["transcription"].split() == [text.strip() for _, _, text in only.spoken or []]


def wordless(text: str, start: float, end: float) -> Any:
    return make_segment(text, start, end, [])


#: A Whisper answer without word timings: a sentence, then one stretched over the next.
SENTENCE = wordless(" one two three four five six seven eight nine ten", 0.0, 4.0)
STRETCHED = wordless(" eleven twelve thirteen fourteen fifteen sixteen seventeen", 5.0, 18.0)
SPEECH = [(0.2, 3.9), (5.1, 8.0), (8.8, 17.9)]


def test_only_a_segment_with_far_too_few_words_for_its_heard_speech_counts() -> None:
    assert sparse_segments([SENTENCE, STRETCHED], SPEECH) == [(5.1, 17.9)]
    # 3 words over 1.75 s heard is a slow "1, 2, 3.", not a skipped sentence.
    numbers = wordless(" 1, 2, 3.", 20.0, 25.0)
    assert sparse_segments([numbers], [(20.5, 22.25)]) == []
    timed = make_segment(" seven", 5.0, 18.0, [{"word": " seven", "start": 5.0, "end": 18.0,
                                                 "score": 0.9, "speaker": None}])  # fmt: skip
    assert sparse_segments([timed], SPEECH) == []  # timed words: the holes between them count
    # A Chinese sentence has no spaces to count its words by: one "word" in 4.6 s.
    chinese = wordless("我们今天去公园散步然后回家吃饭。", 0.0, 5.0)
    assert sparse_segments([chinese], [(0.2, 4.8)]) == []


def test_the_words_heard_again_replace_the_sparse_segments_only_when_they_are_more() -> None:
    heard = [
        wordless(" eleven twelve thirteen fourteen fifteen sixteen seventeen", 5.1, 8.0),
        wordless(" eighteen nineteen twenty twenty-one twenty-two twenty-three", 8.8, 13.0),
        wordless(" twenty-four twenty-five twenty-six twenty-seven", 13.2, 17.9),
    ]
    replaced, gained = replace_sparse([SENTENCE, STRETCHED], (5.1, 17.9), heard)
    assert replaced == [SENTENCE, *heard]  # in its place, not beside it
    assert gained == 17 - 7
    fewer = [wordless(" eleven twelve", 5.1, 8.0)]  # the decode skipped as much again
    assert replace_sparse([SENTENCE, STRETCHED], (5.1, 17.9), fewer) == ([SENTENCE, STRETCHED], 0)


def test_the_words_heard_again_keep_within_the_segment_they_replace() -> None:
    # The decode starts a margin before the speech: its first segment would reach back
    # over the sentence before (4.6 s < 5.0 s), out of time order with its end.
    after = wordless(" nineteen", 18.0, 20.0)
    heard = [
        wordless(" eleven twelve thirteen fourteen fifteen sixteen seventeen", 4.6, 8.0),
        wordless(" eighteen nineteen twenty twenty-one twenty-two twenty-three", 8.8, 18.4),
    ]
    replaced, gained = replace_sparse([SENTENCE, STRETCHED, after], (5.1, 17.9), heard)
    assert gained == 13 - 7
    assert [(s["start"], s["end"]) for s in replaced] == [
        (0.0, 4.0),
        (5.0, 8.0),
        (8.8, 18.0),
        (18.0, 20.0),
    ]
    # Which segments are taken is decided on their own times, as beside words: one
    # whose middle lies in the speech stays though its middle, kept within, would not.
    long = wordless(" eleven twelve", 5.0, 30.0)  # speech in its first 7 s only
    late = wordless(" " + " ".join(["word"] * 20), 2.0, 22.0)
    replaced, _ = replace_sparse([long], (5.1, 12.0), [late])
    assert [(s["start"], s["end"]) for s in replaced] == [(5.0, 22.0)]


def pieced(decoded: list[tuple[tuple[float, float], Any]]) -> Recovery:
    recovery = Recovery([SENTENCE, STRETCHED], sparse=[(5.1, 17.9)])
    put_back(recovery, decoded)
    return recovery


def test_a_sparse_segment_is_replaced_only_by_all_the_pieces_of_its_speech() -> None:
    halves = [(5.1, 11.5), (11.5, 17.9)]
    first = [
        wordless(" eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen", 5.1, 11.4)
    ]
    second = [wordless(" nineteen twenty twenty-one twenty-two", 11.6, 17.9)]
    both = pieced([(halves[0], first), (halves[1], second)])
    assert both.segments == [SENTENCE, *first, *second] and both.recovered_words == 12 - 7
    # The second half's chunk failed: 8 words of its first half are more than the
    # segment's 7, but the segment's words of the second half would be lost.
    failed = pieced([(halves[0], first), (halves[1], None)])
    assert failed.segments == [SENTENCE, STRETCHED] and failed.recovered_words == 0


def test_each_piece_goes_to_its_own_sparse_segment_where_two_overlap() -> None:
    # Segments without words are kept whole at a chunk's seam by their middle, so the
    # last of one chunk and the first of the next can overlap (5-18 s and 16-30 s).
    later = wordless(" thirty-one thirty-two", 16.0, 30.0)
    recovery = Recovery([SENTENCE, STRETCHED, later], sparse=[(5.1, 17.9), (16.1, 29.9)])
    first = [wordless(" " + " ".join(["one"] * 20), 5.1, 15.9)]
    second = [wordless(" " + " ".join(["two"] * 20), 18.0, 29.9)]
    put_back(recovery, [((5.1, 17.9), first), ((16.1, 29.9), second)])
    assert recovery.segments == [SENTENCE, *first, *second]
    assert recovery.recovered_words == 40 - 7 - 2
