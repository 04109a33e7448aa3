"""Reading the voices folder into people with voice vectors (the cache spares the encoder)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.vectors import Floats, unit
from dropscribe.speakers.voices import Person, Sample, VoiceCache, encoder_version, people_files

Decoder = Callable[[Path], Floats]


def sample_vector(audio: Floats, encoder: VoiceEncoder) -> tuple[float, Floats | None]:
    """Return the speech seconds of a recording and its voice vector (None: no speech)."""
    from dropscribe.speakers.diarize import embed
    from dropscribe.speakers.features import mel_frames
    from dropscribe.speakers.windows import plan_windows, speech_regions

    regions = speech_regions(audio)
    mel = mel_frames(audio)
    windows = plan_windows(regions, len(mel))
    seconds = sum(end - start for start, end in regions)
    if not windows:
        return seconds, None
    vectors = embed(mel, windows, encoder)
    return seconds, unit(vectors.mean(axis=0, keepdims=True))[0]


def enrolled_people(
    folder: Path, encoder: VoiceEncoder, weights_path: Path, decode: Decoder
) -> list[Person]:
    """Return the people of ``folder`` with their samples' vectors, embedding only what the
    cache lacks; a sample that cannot be decoded is left out (it has no vector)."""
    cache = VoiceCache(folder, encoder_version(weights_path))
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
            samples.append(Sample(path, sample.seconds, sample.vector))
        people.append(Person(name, samples))
    cache.keep_only(keys)
    cache.save()
    return people


def _embed(path: Path, encoder: VoiceEncoder, decode: Decoder) -> Sample:
    try:
        audio = decode(path)
    except Exception:  # a broken sample must not stop the others, nor the diarization
        return Sample(path, 0.0, None)
    seconds, vector = sample_vector(audio, encoder)
    return Sample(path, seconds, vector)


def person_scores(centres: Floats, people: list[Person]) -> Floats:
    """Return the (speakers, people) similarities: each person's best sample."""
    scores = np.full((len(centres), len(people)), -1.0, np.float32)
    for column, person in enumerate(people):
        vectors = person.vectors
        if len(vectors):
            scores[:, column] = (centres @ vectors.T).max(axis=1)
    return scores
