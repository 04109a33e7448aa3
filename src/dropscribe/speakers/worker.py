"""The speaker worker: one request, one answer (started as ``dropscribe.speakers.worker:main``).

Whatever goes wrong in here becomes a :class:`~dropscribe.speakers.request.DiarizeFailed`
sentence: diarization never fails a job. The daemon (:mod:`.runner`) starts
it with one BLAS thread in the environment (the thread limits take effect
only when set before numpy loads; nothing before this module's work imports
numpy).
"""

from __future__ import annotations

import os
from typing import Any

from dropscribe.speakers.request import (
    DiarizeFailed,
    DiarizeRequest,
    Labelled,
    SpeakerDetail,
    sentence,
)
from dropscribe.workers.channel import Channel
from dropscribe.workers.messages import MessageError, Ready


def main(channel: Channel) -> int:
    """Take one request, send its labels (or why there are none); return the exit status."""
    channel.send(Ready(os.getpid()))
    try:
        request = channel.receive((DiarizeRequest,))
    except MessageError:
        request = None
    if request is None:
        return 2  # the daemon is gone, or not one of ours
    try:
        answer: Labelled | DiarizeFailed = labelled(diarize_words(request))
    except Exception as exc:  # the whole point: any failure becomes a warning
        answer = DiarizeFailed(sentence(exc))
    channel.send(answer)
    return 0


def diarize_words(request: DiarizeRequest) -> dict[str, Any]:
    """Return ``{"labels": [...], "speakers": n, "details": {...}}`` for ``request`` (in
    this process)."""
    from dropscribe.speakers.labelled import label_words

    return label_words(request)


def labelled(answer: dict[str, Any]) -> Labelled:
    """Return :func:`diarize_words`'s answer as a message (numpy numbers made plain)."""
    details = {str(label): _detail(entry) for label, entry in answer["details"].items()}
    labels = [None if label is None else str(label) for label in answer["labels"]]
    return Labelled(labels, int(answer["speakers"]), details, answer.get("note"))


def _detail(entry: dict[str, Any]) -> SpeakerDetail:
    detail: SpeakerDetail = {}
    if "enrolled" in entry:
        detail["enrolled"] = bool(entry["enrolled"])
    if "score" in entry:
        detail["score"] = None if entry["score"] is None else float(entry["score"])
    if "channel" in entry:
        detail["channel"] = int(entry["channel"])
    return detail
