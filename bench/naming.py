"""Speakers by name on real voices: words named, strangers never, and the threshold's room.

Part of ``bench.diarize`` (``--names`` runs this part alone). For each
same-sex pair, every voice but the second is enrolled as a user would: from
recordings as recorded (half of each voice's pieces joined into recordings of
about 8 s), through the project's enrolment (which hears each sample as
recorded and on a telephone line). The conversation is built from the other
half and heard as recorded, on a telephone line and in a room
(bench/conversations.py), diarized with the project's Resemblyzer windows and
each found speaker told by CAM++ on its turns (speakers/turns.py); the first
voice must be named, the second is a stranger and must not be. Words come
from tiny.en on the conversation as recorded (a word's truth is the voice at
its midpoint; overlaps unscored).

Calibration: each voice enrolled from one half and its other half heard alone
on every channel, scored against everyone (the same voice: genuine; another:
a stranger), both ways round.

Held out: the threshold chosen on one split (its highest stranger score, in
the calibration trials and the conversations, plus ``HELD_OUT_ROOM``) and the
other split's conversations named with it, both ways round, so that no figure
reported is one the threshold was chosen on.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import conversations as cv
from bench import der as scoring
from dropscribe.speakers.campplus import NameEncoder
from dropscribe.speakers.diarize import SpeakerWindows, diarize
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.enrolment import (
    name_speakers,
    person_scores,
    piece_support,
    sample_vectors,
)
from dropscribe.speakers.labelling import word_speakers
from dropscribe.speakers.naming import NAME_SIMILARITY, assign_names
from dropscribe.speakers.request import CountLimits
from dropscribe.speakers.turns import Pieces, speaker_pieces
from dropscribe.speakers.vectors import Floats
from dropscribe.speakers.voices import Person, Sample

Found = dict[str, tuple[list[cv.Piece], str]]
Transcribe = Callable[[cv.Floats], list[tuple[float, float]]]
#: Enrolment samples are the enrolment half's pieces joined into recordings this long.
ENROL_SAMPLE_SECONDS = 8.0
#: The enrolment's pieces and the test's: every other piece of a voice.
HALVES = (slice(0, None, 2), slice(1, None, 2))
#: Seconds a labelling window stands for (as the worker counts a speaker's speech).
WINDOW_SHARE_SECONDS = 0.25
#: Held out, the threshold lies this far above the choosing split's highest stranger
#: score: about the room the shipped threshold has (0.64 over 0.602).
HELD_OUT_ROOM = 0.04


@dataclass(frozen=True)
class Trial:
    """One conversation on one channel, kept to be named again at another threshold."""

    kind: str
    result: SpeakerWindows
    scores: Floats
    support: Floats
    people: list[str]
    spans: list[tuple[float, float]]
    turns: list[cv.Turn]
    pair: tuple[str, str]


class NameTally:
    """One channel's counts: conversations and words of the enrolled voice and the stranger."""

    def __init__(self) -> None:
        self.named = self.wrong = self.stranger = self.conversations = 0
        self.words = {"enrolled": [0, 0], "stranger": [0, 0], "wrong": [0, 0]}
        self.stranger_windows = 0
        self.worst_stranger = -1.0
        self.lowest_named = 2.0
        #: CPU seconds of diarization and naming (CAM++ included), and seconds of audio.
        self.cpu = self.seconds = 0.0

    def line(self, threshold: float = NAME_SIMILARITY) -> str:
        (e, en), (s, sn), (w, _) = (self.words[k] for k in ("enrolled", "stranger", "wrong"))
        n = self.conversations
        return (
            f"enrolled person's words named {e}/{en} = {e / max(en, 1):.1%}, "
            f"stranger's words named {s}/{sn}, words with a wrong name {w}; "
            f"conversations: enrolled speaker named {self.named}/{n}, a wrong name "
            f"{self.wrong}/{n}, stranger's speaker named {self.stranger}/{n}; stranger's "
            f"windows carrying a name {self.stranger_windows}; best stranger score "
            f"{self.worst_stranger:.3f}, lowest score named {self.lowest_named:.3f} "
            f"(threshold {threshold:.3f})"
            + (self._timing() if self.seconds else "")  # held-out tallies are not timed
        )

    def _timing(self) -> str:
        rate = self.cpu / self.seconds
        return f"; real-time factor of diarization and naming (CPU) {rate:.4f}"


def enrol(found: Found, half: slice, encoder: NameEncoder) -> dict[str, Person]:
    """Return every voice enrolled from ``half`` of its pieces, as recorded."""
    people = {}
    for name, (pieces, _) in found.items():
        samples = [sample_vectors(audio, encoder) for audio in _samples(pieces[half])]
        people[name] = Person(name, [Sample(Path(name), s, v) for s, v in samples])
    return people


def naming(
    found: Found,
    encoders: tuple[VoiceEncoder, NameEncoder],
    transcribe: Transcribe,
    channels: tuple[str, ...],
    pairs: list[tuple[str, str]],
    swap: bool = False,
    trials: list[Trial] | None = None,
) -> dict[str, str]:
    """By channel: words and conversations of the enrolled voice named, of the stranger.
    ``swap``: enrolled from the other half, the conversations built from the first;
    ``trials``: filled with every conversation and channel, for ``held_out``."""
    enrolled_half, tested_half = HALVES[::-1] if swap else HALVES
    encoder, namer = encoders
    people = enrol(found, enrolled_half, namer)
    tallies = {kind: NameTally() for kind in channels}
    for seed, (first, second) in enumerate(pairs):
        mix, turns = cv.converse(
            found[first][0][tested_half],
            found[second][0][tested_half],
            (first, second),
            seed + (150 if swap else 50),
        )
        spans = transcribe(mix)
        enrolled = [person for name, person in people.items() if name != second]
        for kind in channels:
            heard = cv.channel(mix, kind)
            started = time.process_time()
            result = diarize(heard, encoder, CountLimits(speakers=2))
            pieces = _pieces(heard, result, namer)
            seconds = np.bincount(result.speakers, minlength=result.count) * WINDOW_SHARE_SECONDS
            matches = name_speakers(pieces, seconds.tolist(), enrolled)
            tallies[kind].cpu += time.process_time() - started
            tallies[kind].seconds += len(heard) / cv.RATE
            scores = person_scores(pieces.centres, enrolled)
            names = [match.name for match in matches]
            _count(tallies[kind], result, names, turns, (first, second))
            words = word_speakers(spans, result)
            _count_words(tallies[kind], words, names, spans, turns, (first, second))
            _count_scores(tallies[kind], result, scores, turns, (first, second), matches)
            if trials is not None:
                support = piece_support(pieces, result.count, enrolled)
                names_now = [person.name for person in enrolled]
                trials.append(
                    Trial(kind, result, scores, support, names_now, spans, turns, (first, second))
                )
    return {kind: tally.line() for kind, tally in tallies.items()}


def _pieces(audio: cv.Floats, result: SpeakerWindows, namer: NameEncoder) -> Pieces:
    return speaker_pieces(audio, result.windows, result.speakers, result.count, namer)


def stranger_ceiling(trials: list[Trial]) -> float:
    """Return the highest score of a speaker that is mostly the stranger, over ``trials``."""
    tally = NameTally()
    for trial in trials:
        _count_scores(tally, trial.result, trial.scores, trial.turns, trial.pair, [])
    return tally.worst_stranger


def held_out(trials: list[Trial], threshold: float) -> dict[str, NameTally]:
    """By channel: ``trials`` named again with ``threshold`` instead of the shipped one."""
    tallies: dict[str, NameTally] = defaultdict(NameTally)
    for trial in trials:
        seconds = np.bincount(trial.result.speakers, minlength=trial.result.count)
        shares = (seconds * WINDOW_SHARE_SECONDS).tolist()
        matches = assign_names(trial.scores, trial.people, shares, threshold, trial.support)
        names = [match.name for match in matches]
        tally = tallies[trial.kind]
        _count(tally, trial.result, names, trial.turns, trial.pair)
        words = word_speakers(trial.spans, trial.result)
        _count_words(tally, words, names, trial.spans, trial.turns, trial.pair)
        _count_scores(tally, trial.result, trial.scores, trial.turns, trial.pair, matches)
    return tallies


def _owners(result: SpeakerWindows, turns: list[cv.Turn]) -> dict[str, list[int]]:
    owners: dict[str, list[int]] = defaultdict(list)
    for window, speaker in zip(result.windows, result.speakers.tolist(), strict=True):
        voice = scoring.truth_at(turns, (window.start + window.end) / 2)
        if voice is not None:
            owners[voice].append(speaker)
    return owners


def _majority(speakers: list[int]) -> int | None:
    return max(set(speakers), key=speakers.count) if speakers else None


def _count(
    tally: NameTally,
    result: SpeakerWindows,
    names: list[str | None],
    turns: list[cv.Turn],
    pair: tuple[str, str],
) -> None:
    """Add one conversation: the speaker holding most of each voice's windows, named?"""
    owners = _owners(result, turns)
    first, second = (_majority(owners[voice]) for voice in pair)
    first_name = None if first is None else names[first]
    second_name = None if second is None else names[second]
    tally.named += first_name == pair[0]
    tally.wrong += first_name not in (None, pair[0])
    tally.stranger += second_name is not None
    tally.conversations += 1
    tally.stranger_windows += sum(names[speaker] is not None for speaker in owners[pair[1]])


def _count_words(
    tally: NameTally,
    speakers: list[int | None],
    names: list[str | None],
    spans: list[tuple[float, float]],
    turns: list[cv.Turn],
    pair: tuple[str, str],
) -> None:
    """Add one conversation's words: the enrolled voice's named right, the stranger's named."""
    for (start, end), speaker in zip(spans, speakers, strict=True):
        voice = scoring.truth_at(turns, (start + end) / 2)
        name = None if speaker is None else names[speaker]
        if voice == pair[0]:
            tally.words["enrolled"][1] += 1
            tally.words["enrolled"][0] += name == voice
            tally.words["wrong"][0] += name not in (None, voice)
        elif voice == pair[1]:
            tally.words["stranger"][1] += 1
            tally.words["stranger"][0] += name is not None


def _count_scores(
    tally: NameTally,
    result: SpeakerWindows,
    scores: Any,
    turns: list[cv.Turn],
    pair: tuple[str, str],
    matches: list[Any],
) -> None:
    """Keep the best score of a speaker that is mostly the stranger, and the lowest named."""
    owners = _owners(result, turns)
    first, second = (_majority(owners[voice]) for voice in pair)
    if second is not None and second != first:
        tally.worst_stranger = max(tally.worst_stranger, float(scores[second].max()))
    for match in matches:
        if match.name is not None:
            tally.lowest_named = min(tally.lowest_named, float(match.score))


def calibration(
    found: Found,
    encoders: tuple[VoiceEncoder, NameEncoder],
    channels: tuple[str, ...],
    ceilings: list[float] | None = None,
) -> dict[str, str]:
    """By channel: the scores of each voice's held-out half, alone, against its own
    enrolment (genuine) and everyone else's (strangers), both halves round; and how
    often the naming rule names the voice, and names it with everyone else enrolled.
    ``ceilings``: filled with each split's highest stranger score (even/odd first)."""
    tallies = {kind: Calibration() for kind in channels}
    encoder, namer = encoders
    for enrolled_half, tested_half in (HALVES, HALVES[::-1]):
        before = {kind: len(tally.strangers) for kind, tally in tallies.items()}
        people = enrol(found, enrolled_half, namer)
        names = list(people)
        for name, (pieces, _) in found.items():
            alone = np.concatenate([audio for audio, _ in pieces[tested_half]])
            for kind in channels:
                heard = cv.channel(alone, kind)
                result = diarize(heard, encoder, CountLimits(speakers=1))
                if result.windows:
                    centres = _pieces(heard, result, namer).centres
                    row = person_scores(centres[:1], list(people.values()))[0]
                    tallies[kind].add(name, names, row)
        if ceilings is not None:
            split = [s for k, t in tallies.items() for s, _ in t.strangers[before[k] :]]
            ceilings.append(max(split, default=-1.0))
    return {kind: tally.line() for kind, tally in tallies.items()}


class Calibration:
    """One channel's genuine and stranger scores, and the naming rule's outcomes."""

    def __init__(self) -> None:
        self.genuine: list[float] = []
        self.strangers: list[tuple[float, str]] = []
        self.named = self.stranger_named = 0

    def add(self, name: str, names: list[str], row: Any) -> None:
        for other, score in zip(names, row.tolist(), strict=True):
            if other == name:
                self.genuine.append(score)
            else:
                self.strangers.append((score, f"{name} against {other}"))
        self.named += assign_names(row[None, :], names, [60.0])[0].name == name
        others = [i for i, other in enumerate(names) if other != name]
        chosen = assign_names(row[None, others], [names[i] for i in others], [60.0])[0]
        self.stranger_named += chosen.name is not None

    def line(self) -> str:
        best, who = max(self.strangers)
        n = len(self.genuine)
        return (
            f"genuine {min(self.genuine):.3f}-{max(self.genuine):.3f} (median "
            f"{np.median(self.genuine):.3f}), named {self.named}/{n}; strangers up to "
            f"{best:.3f} ({who}; {len(self.strangers)} pairs), a stranger named with the "
            f"others enrolled {self.stranger_named}/{n}"
        )


def _samples(pieces: list[cv.Piece], seconds: float = ENROL_SAMPLE_SECONDS) -> list[cv.Floats]:
    """Return ``pieces`` joined into recordings of about ``seconds`` each, as a person would
    be enrolled from a few recordings rather than from single utterances."""
    samples: list[cv.Floats] = []
    current: list[cv.Floats] = []
    for audio, _ in pieces:
        current.append(audio)
        if sum(len(part) for part in current) >= seconds * cv.RATE:
            samples.append(np.concatenate(current))
            current = []
    if current:
        samples.append(np.concatenate(current))
    return samples
