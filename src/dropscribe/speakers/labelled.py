"""The worker's work: a label for every word, from the voices or from the channels,
and enrolled names in place of the labels that match a person.

What comes back: ``labels`` (one per word), ``speakers`` (how many) and
``details``, by label, for the transcript's ``speakers[]`` entries:
``channel`` (1 left, 2 right) when a stereo call was labelled by channel;
``enrolled`` and ``score`` when a voices folder is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from dropscribe.speakers.channels import (
    channel_powers,
    is_split_call,
    leading_channel,
    word_channels,
)
from dropscribe.speakers.diarize import SpeakerWindows, diarize, embed_windows
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.labelling import speaker_labels, word_speakers
from dropscribe.speakers.naming import Match
from dropscribe.speakers.vectors import VECTOR_SIZE, Floats, Ints, centres
from dropscribe.speakers.weights import default_weights_path, load_weights
from dropscribe.speakers.windows import LABEL_STEP_FRAMES

if TYPE_CHECKING:  # only the worker imports this module
    from dropscribe.speakers.request import DiarizeRequest

NOT_NAMED = "Speakers were not named from the voices folder"
#: Seconds of speech a labelling window stands for (they start every 0.25 s).
WINDOW_SHARE_SECONDS = LABEL_STEP_FRAMES / 100


class FoundSpeakers(NamedTuple):
    """The speakers found, as naming needs them."""

    centres: Floats
    seconds: list[float]
    #: Each window's vector and speaker number; None for a stereo call's channels.
    windows: tuple[Floats, Ints] | None


def label_words(request: DiarizeRequest) -> dict[str, Any]:
    """Return the labels of ``request``'s words, with the details of each label."""
    from dropscribe.audio.decode import decode_file

    weights_path = Path(request.weights_path) if request.weights_path else default_weights_path()
    encoder = VoiceEncoder(load_weights(weights_path))
    audio = decode_file(request.audio_path, request.max_duration).samples
    powers = channel_powers(request.audio_path, request.max_duration)
    details: dict[str, dict[str, Any]] = {}
    if powers is not None and is_split_call(powers):
        numbers = word_channels(request.spans, powers)
        labels: list[str | None] = [f"SPEAKER_{n + 1}" for n in numbers]
        details = {f"SPEAKER_{n + 1}": {"channel": n + 1} for n in set(numbers)}
        speakers = FoundSpeakers(*_channel_voices(audio, powers, encoder), windows=None)
    else:
        result = diarize(audio, encoder, request.limits)
        found = word_speakers(request.spans, result)
        labels = speaker_labels(found)
        numbers = [-1 if n is None else n for n in found]
        windows = (result.vectors, result.speakers)
        speakers = FoundSpeakers(result.centres(), _seconds(result), windows)
    note = None
    if request.limits.voices:
        try:
            labels = _named(labels, numbers, speakers, request, encoder, weights_path, details)
        except Exception as exc:  # an unreadable voices folder costs the names, not the labels
            note = f"{NOT_NAMED}: {exc}"
    answer = {
        "labels": labels,
        "speakers": len({label for label in labels if label}),
        "details": details,
    }
    return answer if note is None else {**answer, "note": note}


def _named(
    labels: list[str | None],
    numbers: list[int],
    speakers: FoundSpeakers,
    request: DiarizeRequest,
    encoder: VoiceEncoder,
    weights_path: Path,
    details: dict[str, dict[str, Any]],
) -> list[str | None]:
    """Return ``labels`` with enrolled names in place of the matching speakers' labels,
    and fill ``details`` (enrolled, score) for every label."""
    from dropscribe.audio.decode import decode_file
    from dropscribe.speakers.enrolment import enrolled_people, name_speakers

    def decode(path: Path) -> Floats:
        return decode_file(path, request.max_duration).samples

    people = enrolled_people(Path(request.limits.voices), encoder, weights_path, decode)
    matches = name_speakers(speakers.centres, speakers.seconds, people, speakers.windows)
    renamed: dict[str, str] = {}
    for label, number in zip(labels, numbers, strict=True):
        if label is None or label in renamed or not 0 <= number < len(matches):
            continue
        match: Match = matches[number]
        name = match.name or label
        renamed[label] = name
        entry = details.pop(label, {})
        details[name] = {**entry, "enrolled": match.name is not None, "score": match.score}
    return [None if label is None else renamed.get(label, label) for label in labels]


def _seconds(result: SpeakerWindows) -> list[float]:
    counts = np.bincount(result.speakers, minlength=result.count)
    return [float(count) * WINDOW_SHARE_SECONDS for count in counts]


def _channel_voices(
    audio: Floats, powers: Any, encoder: VoiceEncoder
) -> tuple[Floats, list[float]]:
    """Return each channel's voice vector (from the windows it leads) and its seconds."""
    windows, vectors, _ = embed_windows(audio, encoder)
    lead = leading_channel(powers)
    owners = []
    for window in windows:
        part = lead[window.first : window.last]
        left, right = int((part == 0).sum()), int((part == 1).sum())
        owners.append(0 if left >= 2 * right and left else 1 if right >= 2 * left and right else -1)
    chosen = np.array(owners, dtype=np.int64)
    kept = chosen >= 0
    if not kept.any():
        return np.zeros((2, VECTOR_SIZE), np.float32), [0.0, 0.0]
    found = centres(vectors[kept], chosen[kept], 2)
    counts = np.bincount(chosen[kept], minlength=2)
    return found, [float(count) * WINDOW_SHARE_SECONDS for count in counts]
