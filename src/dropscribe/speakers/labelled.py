"""The worker's work: a label for every word, from the voices or from the channels,
and enrolled names in place of the labels that match a person.

What comes back: ``labels`` (one per word), ``speakers`` (how many) and
``details``, by label, for the transcript's ``speakers[]`` entries:
``channel`` (1 left, 2 right) when a stereo call was labelled by channel;
``enrolled`` and ``score`` when a voices folder is set.

Names are told by the naming encoder (CAM++, speakers/campplus.py) on each
found speaker's turns (speakers/turns.py), loaded only when a voices folder
is set; without its weights the labels stay ``SPEAKER_n`` and ``note`` says
how to install them.
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
from dropscribe.speakers.diarize import diarize
from dropscribe.speakers.encoder import VoiceEncoder
from dropscribe.speakers.features import HOP
from dropscribe.speakers.labelling import speaker_labels, word_speakers
from dropscribe.speakers.naming import Match
from dropscribe.speakers.vectors import Floats, Ints
from dropscribe.speakers.weights import default_weights_path, load_weights
from dropscribe.speakers.windows import LABEL_STEP_FRAMES, Window, plan_windows, speech_regions

if TYPE_CHECKING:  # only the worker imports this module
    from dropscribe.speakers.request import DiarizeRequest

NOT_NAMED = "Speakers were not named from the voices folder"
#: Seconds of speech a labelling window stands for (they start every 0.25 s).
WINDOW_SHARE_SECONDS = LABEL_STEP_FRAMES / 100


class FoundSpeakers(NamedTuple):
    """The speakers found, as naming needs them: each labelling window's speaker."""

    windows: list[Window]
    #: Each window's speaker number; -1 where a stereo call's window is of both channels.
    owners: Ints
    total: int


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
        speakers = _channel_owners(audio, powers)
    else:
        result = diarize(audio, encoder, request.limits)
        found = word_speakers(request.spans, result)
        labels = speaker_labels(found)
        numbers = [-1 if n is None else n for n in found]
        speakers = FoundSpeakers(result.windows, result.speakers, result.count)
    note = None
    if request.limits.voices:
        try:
            labels = _named(labels, numbers, speakers, audio, request, details)
        except Exception as exc:  # missing weights or an unreadable folder cost the names only
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
    audio: Floats,
    request: DiarizeRequest,
    details: dict[str, dict[str, Any]],
) -> list[str | None]:
    """Return ``labels`` with enrolled names in place of the matching speakers' labels,
    and fill ``details`` (enrolled, score) for every label."""
    from dropscribe.audio.decode import decode_file
    from dropscribe.speakers.campplus import NameEncoder
    from dropscribe.speakers.enrolment import enrolled_people, name_speakers
    from dropscribe.speakers.turns import speaker_pieces

    def decode(path: Path) -> Floats:
        return decode_file(path, request.max_duration).samples

    folder = Path(request.limits.voices)
    # The graph is kept in the voices folder, the one folder naming may write to.
    encoder = NameEncoder.load(cache_dir=folder if folder.is_dir() else None)
    people = enrolled_people(folder, encoder, decode)
    pieces = speaker_pieces(audio, speakers.windows, speakers.owners, speakers.total, encoder)
    matches = name_speakers(pieces, _seconds(speakers), people)
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


def _seconds(speakers: FoundSpeakers) -> list[float]:
    kept = speakers.owners[speakers.owners >= 0]
    counts = np.bincount(kept, minlength=speakers.total)
    return [float(count) * WINDOW_SHARE_SECONDS for count in counts]


def _channel_owners(audio: Floats, powers: Any) -> FoundSpeakers:
    """Return the labelling windows of a stereo call, each owned by the channel that leads
    it (twice the other's frames), or by nobody (-1)."""
    total_frames = len(audio) // HOP + 1
    windows = plan_windows(speech_regions(audio), total_frames, step_frames=LABEL_STEP_FRAMES)
    lead = leading_channel(powers)
    owners = []
    for window in windows:
        part = lead[window.first : window.last]
        left, right = int((part == 0).sum()), int((part == 1).sum())
        owners.append(0 if left >= 2 * right and left else 1 if right >= 2 * left and right else -1)
    return FoundSpeakers(windows, np.array(owners, dtype=np.int64), 2)
