"""SIGHUP: which changes of the configuration apply while the daemon runs.

A reload builds new settings from the file; :func:`plan_reload` takes from them
the keys that apply live and keeps the rest as they are (those need a restart,
and the log says which). The daemon swaps the result in with one assignment
(:class:`~dropscribe.config.CurrentSettings`); nothing is changed in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from dropscribe.config import Settings

#: Keys that apply live, by section (None: the whole section), each with who reads it.
#: A key not listed waits for a restart (the diarisation keys, say, until the
#: daemon reads them per job).
LIVE: dict[str, frozenset[str] | None] = {
    "transcribe": frozenset(
        {
            # intake, for each file it takes:
            "backend",
            "language",
            "task",
            "max_file_bytes",
            # the retry policy, at each error:
            "max_attempts",
            "retry_base_seconds",
            "retry_max_seconds",
            "transient_budget_seconds",
            # the job's request, built at each submission:
            "max_duration_seconds",
            # intake (the result key) and each request, per file:
            "vocabulary",
            "prompt",
            # the outbox, once per batch of sidecars it writes:
            "formats",
            "cue_line_chars",
            "cue_lines",
            "cue_min_seconds",
            "cue_max_seconds",
            "cue_chars_per_second",
        }
    ),
    # the hooks, each time one runs; the logger, set up again at the reload:
    # min_free_mb: read by service/machine.py at each look.
    "service": frozenset({"on_done", "on_failed", "hook_timeout_seconds", "min_free_mb"}),
    "log": None,
}


@dataclass(frozen=True)
class ReloadPlan:
    #: The settings to put in force: the old ones with the live changes.
    settings: Settings
    applied: list[str]
    needs_restart: list[str]


def plan_reload(old: Settings, new: Settings) -> ReloadPlan:
    """Return what a reload from ``old`` to ``new`` puts in force, and what it cannot."""
    applied: list[str] = []
    needs_restart: list[str] = []
    updates = {}
    for section in Settings.model_fields:
        before, after = getattr(old, section), getattr(new, section)
        if before == after:
            continue
        if not isinstance(before, BaseModel):
            needs_restart.append(section)  # folders: a table of sections
            continue
        live = LIVE.get(section, frozenset())
        taken = {}
        for key in type(before).model_fields:
            if getattr(before, key) == getattr(after, key):
                continue
            if live is None or key in live:
                taken[key] = getattr(after, key)
                applied.append(f"{section}.{key}")
            else:
                needs_restart.append(f"{section}.{key}")
        if taken:
            updates[section] = before.model_copy(update=taken)
    return ReloadPlan(old.model_copy(update=updates), applied, needs_restart)
