"""Reading the voices folder into people with voice vectors (the cache spares the encoder).

Each sample is heard two ways: as recorded and on a telephone line (an 8 kHz
line: nothing above 4 kHz, its companding noise included), and each way
gives the person a CAM++ vector (speakers/campplus.py). The line changes
what the encoder hears more than the voices differ: enrolled from recordings
as they were made, the benchmark's voices heard again over a telephone line
scored 0.20-0.44 against themselves, strangers up to 0.44; heard over the
line at enrolment too, the enrolled person was named on 116 and 107 of 117-123
words over the line (in the calibration's search, at a 1 s minimum, 116 and
102 with the line's vector against 54 and 52 without: bench/README.md, issue
22, "Names"). A reverberant room, which Resemblyzer needed heard at
enrolment too, changes nothing for CAM++ (the same words named with or
without the room's vector), so samples are no longer heard in a room. A
person is matched by their best vector, so the line's vector meets a call,
the desk's a desk recording.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.campplus import NameEncoder
from dropscribe.speakers.naming import Match, assign_names
from dropscribe.speakers.turns import Pieces
from dropscribe.speakers.vectors import Floats
from dropscribe.speakers.voices import (
    NO_VECTORS,
    Person,
    Sample,
    VoiceCache,
    cache_version,
    people_files,
)

Decoder = Callable[[Path], Floats]
#: What a match on each way of hearing a sample (as recorded, telephone line) is marked
#: down by, so that the threshold means the same on both: heard over a line, any two
#: voices sound more alike (the most alike stranger scored 0.62 against a line's
#: vector, 0.44 as recorded). Calibrated on real voices, enrolled from some recordings
#: and tested on others (bench/README.md, issue 22, "Calibration").
HEARD_ALLOWANCE = np.array([0.0, 0.02], np.float32)
#: The telephone band (G.712) and mu-law's 8-bit companding.
PHONE_BAND = (300.0, 3400.0)
MU = 255.0
#: A line samples at 8 kHz, so its companding noise, like everything it passes, lies
#: below 4 kHz; companded at 16 kHz, the noise also filled 4-8 kHz, where no call has
#: anything (bench/README.md, issue 22, "Names").
LINE_NYQUIST = 4000.0
#: The line hears a sample a minute at a time: over a whole sample its FFTs took 44 MiB
#: a minute of audio (10 min: 440 MiB), and ``voices add`` writes all of a speaker's
#: speech in a meeting, an hour of which would pass the worker's memory ceiling at every
#: diarization. A sample of a minute or less is heard as before.
CHANNEL_BLOCK_SECONDS = 60


def phone_line(audio: Floats) -> Floats:
    """Return ``audio`` as a telephone line passes it: 300-3400 Hz, mu-law companded,
    nothing above 4 kHz (the companding noise included)."""
    frequencies = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    spectrum = np.fft.rfft(audio)
    spectrum[(frequencies < PHONE_BAND[0]) | (frequencies > PHONE_BAND[1])] = 0
    narrow = np.fft.irfft(spectrum, len(audio))
    peak = float(np.abs(narrow).max()) or 1.0
    level = np.clip(narrow / peak, -1, 1)
    coded = np.round(np.sign(level) * np.log1p(MU * np.abs(level)) / np.log1p(MU) * 127) / 127
    expanded = np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(MU)) / MU * peak
    spectrum = np.fft.rfft(expanded)
    spectrum[frequencies > LINE_NYQUIST] = 0
    heard: Floats = np.fft.irfft(spectrum, len(audio)).astype(np.float32)
    return heard


def sample_vector(audio: Floats, encoder: NameEncoder) -> tuple[float, Floats | None]:
    """Return the speech seconds of a recording and its voice vector (None: no speech):
    CAM++ over its speech, the pauses left out."""
    from dropscribe.speakers.windows import speech_regions

    regions = speech_regions(audio)
    seconds = sum(end - start for start, end in regions)
    parts = [audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)] for start, end in regions]
    if not parts:
        return seconds, None
    return seconds, encoder.embed(np.concatenate(parts))


def sample_vectors(audio: Floats, encoder: NameEncoder) -> tuple[float, Floats]:
    """Return a recording's speech seconds and its vectors as recorded and on a telephone
    line (no rows: no speech)."""
    seconds, vector = sample_vector(audio, encoder)
    if vector is None:
        return seconds, NO_VECTORS
    step = CHANNEL_BLOCK_SECONDS * SAMPLE_RATE
    blocks = [phone_line(audio[start : start + step]) for start in range(0, len(audio), step)]
    line = sample_vector(np.concatenate(blocks), encoder)[1]
    return seconds, np.stack([vector, np.zeros_like(vector) if line is None else line])


def enrolled_people(folder: Path, encoder: NameEncoder, decode: Decoder) -> list[Person]:
    """Return the people of ``folder`` with their samples' vectors, embedding only what the
    cache lacks; a sample that cannot be decoded is left out (it has no vector)."""
    cache = VoiceCache(folder, cache_version(encoder.version))
    people: list[Person] = []
    keys: set[str] = set()
    for name, paths in people_files(folder).items():
        samples = []
        for path in paths:
            key = path.relative_to(folder).as_posix()
            keys.add(key)
            stat = path.stat()
            sample = cache.get(key, stat)
            if sample is None:
                sample = _embed(path, encoder, decode)
                cache.put(key, stat, sample)
            samples.append(Sample(path, sample.seconds, sample.vectors))
        people.append(Person(name, samples))
    cache.keep_only(keys)
    cache.save()
    return people


def _embed(path: Path, encoder: NameEncoder, decode: Decoder) -> Sample:
    try:
        audio = decode(path)
    except Exception:  # a broken sample must not stop the others, nor the diarization
        return Sample(path, 0.0, NO_VECTORS)
    seconds, vectors = sample_vectors(audio, encoder)
    return Sample(path, seconds, vectors)


def best_similarity(rows: Floats, person: Person) -> Floats:
    """Return each of ``rows``' similarity to ``person``'s most alike vector, less the
    allowance of the way that vector was heard (``person`` has vectors)."""
    # Built sample by sample, so that a sample with other than three rows (a cache
    # written by hand) cannot shift every later sample's allowance.
    allowance = np.concatenate(
        [np.resize(HEARD_ALLOWANCE, len(sample.vectors)) for sample in person.samples]
    )
    best: Floats = (rows @ person.vectors.T - allowance).max(axis=1)
    return best


def person_scores(centres: Floats, people: list[Person]) -> Floats:
    """Return the (speakers, people) similarities: each person's best vector, less the
    allowance of the way it was heard."""
    scores = np.full((len(centres), len(people)), -1.0, np.float32)
    for column, person in enumerate(people):
        if len(person.vectors):
            scores[:, column] = best_similarity(centres, person)
    return scores


def piece_support(pieces: Pieces, count: int, people: list[Person]) -> Floats:
    """Return the (speakers, people) median, over each speaker's pieces weighted by their
    length, of a piece's similarity to the person's best vector."""
    support = np.full((count, len(people)), -1.0, np.float32)
    for column, person in enumerate(people):
        if not len(person.vectors) or not len(pieces.vectors):
            continue
        best = best_similarity(pieces.vectors, person)
        for speaker in range(count):
            mine = pieces.owners == speaker
            if mine.any():
                support[speaker, column] = weighted_median(best[mine], pieces.seconds[mine])
    return support


def weighted_median(values: Floats, weights: Floats) -> float:
    """Return the value below which half of the total weight lies."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def name_speakers(pieces: Pieces, seconds: list[float], people: list[Person]) -> list[Match]:
    """Return each speaker's match, by the centre of its pieces' vectors and its seconds of
    speech; half of its speech (by its pieces) must be like the person."""
    count = len(pieces.centres)
    support = piece_support(pieces, count, people)
    scores = person_scores(pieces.centres, people)
    return assign_names(scores, [person.name for person in people], seconds, support=support)
