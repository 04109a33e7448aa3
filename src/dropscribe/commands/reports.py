"""What ``status`` and ``jobs`` print: plain data built from the store, times in ISO 8601."""

from __future__ import annotations

from typing import Any

from dropscribe.jobs.states import IN_FLIGHT, JobState
from dropscribe.jobs.store import Store
from dropscribe.jobs.store.schema import Job
from dropscribe.outbox.naming import display_path
from dropscribe.service.daemon_lock import DaemonInfo
from dropscribe.transcript import iso_time

#: Fields of a job (and of its future) that hold a time as seconds since the epoch.
TIME_FIELDS = ("mtime", "next_attempt_at", "created_at", "updated_at", "started_at", "finished_at")
FUTURE_TIME_FIELDS = ("submitted_at", "expires_at")


def job_record(job: Job, warnings: list[str] | None = None) -> dict[str, Any]:
    """Return the job as plain data with every time in ISO 8601, and its transcript's
    ``warnings`` (empty when none, or no transcript)."""
    data = job.as_dict()
    data["warnings"] = list(warnings or [])
    for key in TIME_FIELDS:
        # next_attempt_at is 0 for "whenever a slot is free": no time to show.
        data[key] = iso_time(data[key]) if data[key] else None
    if isinstance(data.get("future"), dict):
        future = dict(data["future"])
        for key in FUTURE_TIME_FIELDS:
            if isinstance(future.get(key), int | float):
                future[key] = iso_time(future[key])
        data["future"] = future
    return data


def duration_text(seconds: float) -> str:
    """Return a duration as a person reads it: "3 d 4 h", "2 h 05 min", "42 s"."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def daemon_report(info: DaemonInfo | None, now: float) -> dict[str, Any]:
    """Return whether a daemon runs on this store, with its pid, start, uptime and version."""
    if info is None:
        return {"running": False}
    uptime = None if info.started_at is None else round(now - info.started_at)
    return {
        "running": True,
        "pid": info.pid,
        "started_at": iso_time(info.started_at),
        "uptime_seconds": uptime,
        "version": info.version,
        "not_ready": list(info.not_ready),
    }


def daemon_line(report: dict[str, Any], start: str = "dropscribe run") -> str:
    """Return the daemon's state in one line for ``status`` (``start``: the command that
    starts it, run as the user just ran dropscribe)."""
    if not report["running"]:
        return f"daemon: not running (start it with '{start}' or its systemd unit)"
    uptime = report["uptime_seconds"]
    since = (
        f", up {duration_text(uptime)} since {report['started_at']}" if uptime is not None else ""
    )
    line = f"daemon: running (pid {report['pid']}{since}, version {report['version']})"
    # What holds the work back, one sentence a line under it (a full disk, the inbox away).
    return "\n".join([line, *(f"not ready: {note}" for note in report.get("not_ready", []))])


def empty_report(daemon: DaemonInfo | None, now: float) -> dict[str, Any]:
    """Return the report of a store that does not exist yet: nothing has run."""
    return {
        "daemon": daemon_report(daemon, now),
        "counts": {str(state): 0 for state in JobState},
        "in_flight": [],
        "last_failures": [],
        "done_last_hour": 0,
        "with_warnings": 0,
    }


def settling_report(waiting: list[str], shown: int = 20) -> dict[str, Any]:
    """Return the files in the inbox not taken in yet: how many, and the first names."""
    return {"count": len(waiting), "files": [display_path(name) for name in waiting[:shown]]}


def status_report(store: Store, daemon: DaemonInfo | None, now: float) -> dict[str, Any]:
    """Return the daemon, counts by state, in-flight jobs with their age, last failures."""
    in_flight = [
        {
            "job": job.id,
            "file": display_path(job.path),
            "state": str(job.state),
            "backend": job.backend,
            "started_at": iso_time(job.started_at or job.updated_at),
            "seconds": round(now - (job.started_at or job.updated_at), 1),
            "attempt": job.attempts,
        }
        for job in store.jobs(IN_FLIGHT)
    ]
    failures = [
        {
            "job": job.id,
            "file": display_path(job.path),
            "error": job.error,
            "at": iso_time(job.finished_at),
        }
        for job in store.recent_failures(5)
    ]
    return {
        "daemon": daemon_report(daemon, now),
        "counts": store.counts(),
        "in_flight": in_flight,
        "last_failures": failures,
        "done_last_hour": store.finished_since(now - 3600),
        "with_warnings": store.with_warnings(),
    }


def jobs_table(
    jobs: list[Job], warnings: dict[int, list[str]] | None = None, sentences: bool = False
) -> list[str]:
    """Return ``jobs`` as lines of a table under a header, the last change of each in UTC
    and how many warnings its transcript has (blank: none); with ``sentences``, each
    warning follows its job on a line of its own (a count says a transcript may be
    wrong; the sentence says where and what to do)."""
    warnings = warnings or {}
    header = f"{'ID':>6}  {'STATE':<10}  {'BACKEND':<9}  {'UPDATED (UTC)':<20}  {'WARNINGS':<8}"
    lines = [header + "  FILE"]
    for job in jobs:
        error = f"  {job.error}" if job.error and job.state != "done" else ""
        updated = iso_time(job.updated_at) or ""
        path = display_path(job.path)
        count = str(len(warnings.get(job.id, []))) if job.id in warnings else ""
        lines.append(
            f"{job.id:>6}  {job.state:<10}  {job.backend:<9}  {updated:<20}  {count:<8}  "
            f"{path}{error}"
        )
        if sentences:
            lines.extend(f"{'':>8}{sentence}" for sentence in warnings.get(job.id, []))
    return lines
