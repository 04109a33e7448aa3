"""Words heard again: a stretch's decode that says what the segments around it say (issue 26).

The texts are the ones measured: faster-whisper-server 0.0.3 (tiny.en, temperature
0, no word timings) on a 17-minute recording of the English clips, 24 kbit/s Opus.
Its segments' times ended before their speech, or ran 17 s early after a sentence
skipped, and the coverage pass's decodes of the speech "after" them said it again.
"""

from __future__ import annotations

from dropscribe.transcript import Segment, make_segment, make_word
from dropscribe.transcript.coverage import replace_sparse, splice
from dropscribe.transcript.repeats import repeated_ends

JFK = "And so, my fellow Americans ask not what your country can do for you."
ASK = "Ask what you can do for your country."
AMIABLE = "He might even have been made amiable himself."
UNLESS = "Unless to be rather cold-hearted and rather selfish is to be ill-disposed,"
MARRIED = "Had he married a more amiable woman, he might have been made still more respectable than he was."  # noqa: E501
COUNT = "One, two, three."
SKIPPED = "Go forward, ten meters. He was not an ill-disposed young man."


def ends(decoded: str, before: str, after: str) -> tuple[int, int]:
    """``repeated_ends`` with the segments around as sentences ("." ends one)."""
    return repeated_ends(decoded.split(), sentences(before), sentences(after))


def sentences(text: str) -> list[str]:
    return [part for part in text.replace(". ", ".|").split("|") if part]


def test_a_decode_saying_the_last_words_before_it_again_is_all_a_repeat() -> None:
    # tiny.en hears them a little differently: a word for another, one split in two.
    assert ends("free can do for you.", JFK, ASK) == (5, 0)
    assert ends("Amy Abolim himself.", AMIABLE, JFK) == (3, 0)
    # The sentences of the 17 s before, heard again after them, and one not the last.
    again = (
        "to be rather cold-hearted and rather selfish is to be ill-disposed and so my fellow"
        " Americans ask not what your country can do for you ask what you can do for your country"
    )
    # Its start heard again in the third segment back, its end in the last.
    assert repeated_ends(again.split(), [MARRIED, UNLESS, JFK, ASK], [COUNT]) == (33, 0)
    late = "a woman he might have been made still more respectable than he was."
    assert ends(late, f"{MARRIED} {COUNT}", JFK) == (13, 0)


def test_a_skipped_sentence_between_repeats_is_kept_whole() -> None:
    assert ends(f"free can do for you. {SKIPPED}", JFK, ASK) == (5, 0)
    assert ends(f"{SKIPPED} Ask what you", JFK, ASK) == (0, 3)
    assert ends(f"can do for you. {SKIPPED} Ask what you can", JFK, ASK) == (4, 4)
    # Nothing alike: every word is new, and a word or two alike by chance is no repeat.
    assert ends(SKIPPED, JFK, ASK) == (0, 0)
    assert ends("you. Go forward, ten meters.", JFK, ASK) == (0, 0)
    # A decode of a sentence unlike the text around it that tiny.en made up stays: the
    # text cannot tell it from speech (measured: "ask what you can do for your" there).
    assert ends("ask what you can do for your", "He was not an ill-disposed young man.", COUNT) == (
        0,
        0,
    )


def test_a_new_sentence_first_is_not_taken_for_a_repeat_by_what_follows_it() -> None:
    # Measured on the 15-minute recording: a decode of "He might even ..." then the
    # sentence before it said again; its start alone is heard nowhere around.
    before = f"{MARRIED} He was not an old-sposed young man. {JFK} {ASK}"
    decoded = f"He might even have been made amiable himself. {JFK} {ASK}"
    head, _ = ends(decoded, before, "")
    assert head == 0


def wordless(text: str, start: float, end: float) -> Segment:
    return make_segment(" " + text, start, end, [])


def test_without_word_timings_the_words_heard_again_are_left_out_and_the_gap_closed() -> None:
    # The segment's times end at 115 s, its speech at 116.4 s: the stretch 115.0-116.4.
    segments = [wordless(JFK, 108.0, 115.0), wordless(ASK, 117.0, 119.0)]
    found = [wordless("free can do for you.", 114.5, 116.5)]
    spliced, added = splice(segments, (115.0, 116.4), found)
    assert added == 0
    assert [s["text"] for s in spliced] == [" " + JFK, " " + ASK]
    assert spliced[0]["end"] == 116.4  # its speech: the stretch no longer without words
    # A sentence skipped after the repeat: its words alone, once.
    found = [wordless("can do for you.", 114.5, 116.0), wordless(SKIPPED, 116.0, 122.0)]
    segments = [wordless(JFK, 108.0, 115.0), wordless(ASK, 123.0, 125.0)]
    spliced, added = splice(segments, (115.0, 122.0), found)
    assert [s["text"] for s in spliced] == [" " + JFK, " " + SKIPPED, " " + ASK]
    assert added == len(SKIPPED.split()) and spliced[0]["end"] == 116.0
    # Cut inside a segment: what is left of it keeps its times.
    found = [wordless(f"can do for you. {SKIPPED}", 114.5, 122.0)]
    spliced, added = splice(segments, (115.0, 122.0), found)
    assert [(s["text"], s["start"]) for s in spliced][1] == (" " + SKIPPED, 114.5)


def timed(text: str, start: float) -> Segment:
    words = [
        make_word(word, start + index * 0.4, start + index * 0.4 + 0.3, 0.9)
        for index, word in enumerate(text.split())
    ]
    return make_segment(" " + text, words[0]["start"], words[-1]["end"], words)


def test_with_word_timings_a_sentence_said_again_is_kept() -> None:
    # Timed words are where they are said: a hole between them is speech without
    # words, and a sentence heard there again was said again.
    first = timed("ask not what your country can do for you", 0.0)
    later = timed("ask what you can do for your country", 12.0)
    again = [timed("ask not what your country can do for you", 5.0)]
    spliced, added = splice([first, later], (5.0, 8.5), again)
    assert added == 9 and [s["start"] for s in spliced] == [0.0, 5.0, 12.0]


def test_a_sparse_segment_heard_again_keeps_a_sentence_said_twice() -> None:
    # Measured (15 minutes): the clip said twice in a row, tiny.en wrote it once and
    # stretched the next segment over the second; its decode says it again, rightly.
    before = wordless(JFK, 504.0, 515.0)
    stretched = wordless(UNLESS, 517.0, 536.0)
    heard = [wordless(f"{JFK} {ASK}", 517.0, 528.0), wordless(UNLESS, 529.0, 535.0)]
    replaced, gained = replace_sparse([before, stretched], (517.3, 535.9), heard)
    assert [s["text"] for s in replaced] == [" " + JFK, f" {JFK} {ASK}", " " + UNLESS]
    assert gained == len(f"{JFK} {ASK}".split())
