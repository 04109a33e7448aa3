"""Read a serverless worker's refusal: one sentence for people, the rest for the log.

What the runpod SDK (1.12, ``serverless/modules/rp_job.py``) puts in a failed
job's ``error``:

- a handler that *returns* ``{"error": ...}``: that value as it is; the
  faster-whisper worker does so for input validation (a list of sentences from
  ``rp_validator``, "Unexpected input. x is not a valid input option.") and
  for a request without audio;
- a handler that *raises*: a JSON string ``{"error_type", "error_message",
  "error_traceback", "hostname", "worker_id", "runpod_version"}``; the worker
  raises ``ValueError("Invalid model name: x. Available models are: {...}")``.

What can never succeed (the input refused, the model unknown) is final; any
other failure (out of memory, a model download) may pass on another worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: The faster-whisper worker's predict.AVAILABLE_MODELS (the README also lists distil-*
#: models, which its code refuses).
RUNPOD_MODELS = ("tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "turbo")
#: Refusals of the input itself: sending it again gives the same answer.
_FINAL_STARTS = (
    "Invalid model name",
    "Must provide either audio",
    "Unexpected input",
)


@dataclass(frozen=True)
class WorkerError:
    #: One sentence: what the worker said, without its traceback.
    message: str
    #: Everything else it sent (its traceback), for the log only.
    detail: str | None
    #: True when sending the job again cannot succeed.
    final: bool


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit].rstrip(". ")


def _is_final(message: str) -> bool:
    return message.startswith(_FINAL_STARTS) or " is a required input" in message


def read_worker_error(error: Any) -> WorkerError:
    """Return what a failed job's ``error`` says."""
    if isinstance(error, list):
        sentences = [_first_line(str(item)) for item in error if str(item).strip()]
        message = "; ".join(sentences) or "its input was refused"
        return WorkerError(message[:500], None, True)
    text = str(error) if error is not None else ""
    try:
        raised = json.loads(text) if text.lstrip().startswith("{") else None
    except (ValueError, RecursionError):
        raised = None
    if isinstance(raised, dict) and "error_message" in raised:
        message = _first_line(str(raised.get("error_message")))
        if message.startswith("Invalid model name"):
            message = message.split(". Available models", 1)[0]
        detail = "\n".join(
            str(raised[key]) for key in ("error_type", "error_traceback") if raised.get(key)
        )
        return WorkerError(message or "it raised an error", detail or None, _is_final(message))
    message = _first_line(text) or "no reason given"
    rest = text.strip()[len(message) :].strip(". \n")
    return WorkerError(message, rest or None, _is_final(message))
