"""Stereo calls: a recording whose two channels each carry mostly one voice.

Call centres and phone recorders often keep each side of a call on its own
channel. Such a recording is labelled by channel, exactly, without
clustering: the left channel's voice is ``SPEAKER_1``, the right's
``SPEAKER_2``, and each word goes to the channel that is louder during it.

A recording counts as such a call when, over the 10 ms frames where anyone
speaks, one channel is at least ``DOMINANCE_DB`` louder than the other in
``SPLIT_SHARE`` of them, and each channel leads in at least ``SIDE_SHARE``:
a mono recording stored as two equal channels, or a stereo microphone in a
room (both channels hear everyone, a few dB apart), is not one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.features import HOP

DOMINANCE_DB = 10.0
SPLIT_SHARE = 0.8
SIDE_SHARE = 0.05
#: Frames quieter than this, below the loudest (99th percentile), are silence.
ACTIVE_BELOW_PEAK_DB = 40.0

Powers = npt.NDArray[np.float64]


def channel_powers(path: str | Path, max_duration: float) -> Powers | None:
    """Return the (frames, 2) mean power per 10 ms of the left and right channels of the
    file's audio track (the one transcribed), or None when it has not two channels."""
    import av

    from dropscribe.audio.decode import MediaReader, open_media

    with open_media(Path(path)) as source, MediaReader(source, max_duration) as reader:
        if reader.stream.codec_context.layout.nb_channels != 2:
            return None
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        blocks: list[Powers] = []
        carry = np.zeros((2, 0), np.float64)
        limit = int(max_duration * SAMPLE_RATE / HOP)
        for frame in reader.container.decode(reader.stream):
            frame.pts = None
            for out in resampler.resample(frame):
                carry = np.concatenate([carry, out.to_ndarray().astype(np.float64)], axis=1)
                usable = carry.shape[1] // HOP * HOP
                blocks.append((carry[:, :usable].reshape(2, -1, HOP) ** 2).mean(axis=2).T)
                carry = carry[:, usable:]
            if sum(len(block) for block in blocks) >= limit:
                break
    return np.concatenate(blocks) if blocks else np.zeros((0, 2))


def leading_channel(powers: Powers) -> npt.NDArray[np.int64]:
    """Return, per frame, 0 (left leads by ``DOMINANCE_DB``), 1 (right does) or -1
    (neither, or silence)."""
    if not len(powers):
        return np.zeros(0, np.int64)
    loudest = powers.max(axis=1)
    peak = float(np.percentile(loudest, 99))
    active = loudest > peak * 10 ** (-ACTIVE_BELOW_PEAK_DB / 10)
    ratio = 10 * np.log10((powers[:, 0] + 1e-12) / (powers[:, 1] + 1e-12))
    lead = np.where(ratio >= DOMINANCE_DB, 0, np.where(ratio <= -DOMINANCE_DB, 1, -1))
    result: npt.NDArray[np.int64] = np.where(active, lead, -1).astype(np.int64)
    return result


def is_split_call(powers: Powers) -> bool:
    """Whether each channel carries mostly one voice (see the module's rule)."""
    if not len(powers):
        return False
    loudest = powers.max(axis=1)
    peak = float(np.percentile(loudest, 99))
    active = int((loudest > peak * 10 ** (-ACTIVE_BELOW_PEAK_DB / 10)).sum())
    if peak <= 0 or active == 0:
        return False
    lead = leading_channel(powers)
    left, right = int((lead == 0).sum()), int((lead == 1).sum())
    return (left + right) / active >= SPLIT_SHARE and min(left, right) / active >= SIDE_SHARE


def word_channels(spans: list[tuple[float, float]], powers: Powers) -> list[int]:
    """Return the channel (0 left, 1 right) louder over each word's time."""
    frames_per_second = SAMPLE_RATE / HOP
    channels = []
    for start, end in spans:
        first = max(0, int(start * frames_per_second))
        last = min(len(powers), max(first + 1, int(np.ceil(end * frames_per_second))))
        energy = powers[first:last].sum(axis=0) if last > first else np.zeros(2)
        channels.append(int(energy[1] > energy[0]))
    return channels
