"""The command line (DESIGN.md section 5). Exit codes: 0 ok, 1 the work failed, 2 bad usage."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dropscribe import __version__
from dropscribe.commands.discovery import find_config, nothing_found
from dropscribe.commands.program import program_name
from dropscribe.config import Settings, load_settings
from dropscribe.errors import ConfigError
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


#: Where the configuration is searched, said by every --help.
SEARCH_ORDER = (
    "Without --config: $DROPSCRIBE_CONFIG, ./dropscribe.toml, ./config.toml, "
    "~/.config/dropscribe/config.toml, /etc/dropscribe/config.toml, the first found. "
    "Exit codes: 0 ok, 1 the work failed, 2 bad usage or configuration."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dropscribe",
        description="Drop a recording into the inbox; its transcript appears in the outbox.",
        epilog=SEARCH_ORDER,
    )
    parser.add_argument("--version", action="version", version=f"dropscribe {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, epilog=SEARCH_ORDER)
        sub.add_argument(
            "--config",
            type=Path,
            default=None,
            metavar="FILE",
            help="the TOML configuration file (default: searched, see below)",
        )
        return sub

    command("run", "Run the daemon in the foreground (systemd runs this).")
    _add_reports(command)
    retry = command("retry", "Put failed jobs back in the queue.")
    retry.add_argument("job_ids", nargs="*", type=int, metavar="JOB_ID")
    retry.add_argument("--failed", action="store_true", help="retry every failed job")
    transcribe = command("transcribe", "Transcribe files now, with a progress bar.")
    transcribe.add_argument("audio", nargs="+", type=Path, metavar="AUDIO")
    transcribe.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where the sidecars go (default: the current directory)",
    )
    command(
        "check", "Check configuration, directories and backend: what is wrong and how to fix it."
    )
    from dropscribe.commands.voices import add_arguments

    add_arguments(command("voices", "List the enrolled voices, or enroll one (voices add)."))
    return parser


def _add_reports(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The commands that read the job store: ``status`` and ``jobs``."""
    status = command("status", "Counts by state, what is in flight, last failures, throughput.")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    jobs = command("jobs", "List jobs, oldest first.")
    jobs.add_argument("--state", choices=[str(s) for s in JobState], help="only this state")
    jobs.add_argument("--json", action="store_true", help="print a JSON array")
    jobs.add_argument(
        "--limit", type=int, default=0, metavar="N", help="at most this many (0: all)"
    )
    jobs.add_argument(
        "--warnings",
        action="store_true",
        help="only jobs whose transcript has warnings (it may be wrong), each under its job",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    found = find_config(args.config, os.environ, Path.cwd(), Path.home())
    if found is None:
        print(f"dropscribe: {nothing_found(os.environ, Path.cwd(), Path.home())}", file=sys.stderr)
        return EXIT_USAGE
    if found.source != "--config":
        print(f"dropscribe: configuration {found.path} (from {found.source})", file=sys.stderr)
    args.config_source = found.source
    args.config_path = found.path.resolve()  # read again on SIGHUP; not a setting
    try:
        settings = load_settings(found.path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"dropscribe: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from dropscribe.service import logs

    logs.configure(settings.log.level, settings.log.format)
    handler = {
        "run": _run,
        "status": _status,
        "jobs": _jobs,
        "retry": _retry,
        "transcribe": _transcribe,
        "check": _check,
        "voices": _voices,
    }[args.command]
    try:
        code = handler(settings, args)
        sys.stdout.flush()  # here, so that a closed pipe is caught below, not at exit
    except BrokenPipeError:
        # `status --json | head`: the reader left; no traceback for that (and none when
        # Python flushes stdout at exit, hence the redirect to /dev/null).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    return code


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from dropscribe.commands.checks import startup_problems
    from dropscribe.service import signals

    signals.install()  # before the workers start: a SIGTERM from now on exits 0

    problems = startup_problems(settings)
    for problem in problems:
        print(f"dropscribe: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    from dropscribe.service.daemon_lock import AlreadyRunning, lock_path, refuse_if_running

    try:
        refuse_if_running(lock_path(settings.paths))  # before a worker is started for nothing
    except AlreadyRunning as exc:
        print(f"dropscribe: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # The engine's workers start first, so the model loads while the daemon imports and scans.
    from dropscribe.backends.base import Backend
    from dropscribe.backends.local.backend import LocalBackend

    early: dict[str, Backend] = {}
    if "local" in settings.backend_names():
        local = LocalBackend(settings)
        local.warm_up()
        early["local"] = local
    from dropscribe.service.daemon import run_daemon

    try:
        return run_daemon(
            settings, early, config_path=args.config_path, program=program_name(absolute=True)
        )
    except AlreadyRunning as exc:
        for backend in early.values():
            backend.close()
        print(f"dropscribe: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _voices(settings: Settings, args: argparse.Namespace) -> int:
    from dropscribe.commands.voices import voices_command

    return voices_command(settings, args)


def run_command(args: argparse.Namespace) -> str:
    """The command that starts the daemon on this configuration: one named with
    --config is named again (a hint without it would find another, or none)."""
    command = f"{program_name()} run"
    if args.config_source == "--config":
        command += f" --config {shlex.quote(str(args.config_path))}"
    return command


def _open_readonly(settings: Settings, args: argparse.Namespace) -> Store | None:
    if not settings.paths.state.exists():
        print(
            f"dropscribe: no job store at {settings.paths.state} yet; start the daemon "
            f"with '{run_command(args)}' first",
            file=sys.stderr,
        )
        return None
    return Store(settings.paths.state, readonly=True)


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from dropscribe.commands.reports import daemon_line

    report = _status_report(settings, args)
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(daemon_line(report["daemon"], run_command(args)))
    settling = report["settling"]
    if settling["count"]:
        more = settling["count"] - len(settling["files"])
        names = ", ".join(settling["files"]) + (f" and {more} more" if more else "")
        print(
            f"in the inbox, not taken in yet: {settling['count']} (a file is taken once it "
            f"has not changed for {settings.watch.settle_seconds:g} s): {names}"
        )
    counts = report["counts"]
    print("jobs: " + ", ".join(f"{state} {n}" for state, n in counts.items()))
    print(f"done in the last hour: {report['done_last_hour']}")
    if report["with_warnings"]:
        print(
            f"transcripts with warnings: {report['with_warnings']} "
            "(their JSON says why they may be wrong)"
        )
    for item in report["in_flight"]:
        print(
            f"in flight: #{item['job']} {item['file']} ({item['state']} on {item['backend']} "
            f"since {item['started_at']}, {item['seconds']:.0f} s, attempt {item['attempt']})"
        )
    for item in report["last_failures"]:
        print(f"failed: #{item['job']} {item['file']} at {item['at']}: {item['error']}")
    return EXIT_OK


def _status_report(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """The report ``status`` prints; before the first run, with nothing counted (a
    script reads ``{"daemon": {"running": false}, ...}`` rather than nothing)."""
    from dropscribe.commands.reports import empty_report, settling_report, status_report
    from dropscribe.inbox.filters import InboxFilter
    from dropscribe.inbox.scanning import not_taken_in
    from dropscribe.service.daemon_lock import lock_path, running_daemon
    from dropscribe.service.machine import read_only_folders

    daemon = running_daemon(lock_path(settings.paths))
    store = _open_readonly(settings, args)
    if store is None:
        report, known = empty_report(daemon, time.time()), {}
    else:
        report, known = status_report(store, daemon, time.time()), store.known_files()
        store.close()
    if report["daemon"]["running"]:  # what the daemon could not note on a read-only disk
        notes = report["daemon"].setdefault("not_ready", [])
        notes += [n for n in read_only_folders(settings.paths) if n not in notes]
    watch = settings.watch
    inbox_filter = InboxFilter(watch.extensions, watch.ignore)
    report["settling"] = settling_report(not_taken_in(settings.paths.inbox, inbox_filter, known))
    return report


def _jobs(settings: Settings, args: argparse.Namespace) -> int:
    from dropscribe.commands.reports import job_record, jobs_table

    store = _open_readonly(settings, args)
    if store is None:
        return EXIT_FAILED
    states = [JobState(args.state)] if args.state else None
    warned = store.warnings_by_job()
    jobs = store.jobs(states, limit=0 if args.warnings else args.limit)
    if args.warnings:
        jobs = [job for job in jobs if job.id in warned][: args.limit or None]
    if args.json:
        print(json.dumps([job_record(job, warned.get(job.id)) for job in jobs], indent=2))
        return EXIT_OK
    for line in jobs_table(jobs, warned, sentences=args.warnings):
        print(line)
    return EXIT_OK


def _retry(settings: Settings, args: argparse.Namespace) -> int:
    if not args.failed and not args.job_ids:
        print(
            f"dropscribe: name the jobs to retry (see '{program_name()} jobs --state failed') "
            "or pass --failed",
            file=sys.stderr,
        )
        return EXIT_USAGE
    store = Store(settings.paths.state)
    ids = store.retry(None if args.failed else args.job_ids)
    missing = set(args.job_ids) - set(ids)
    print(f"queued again: {len(ids)} job(s)" + (f" {sorted(ids)}" if ids else ""))
    if missing:
        print(f"dropscribe: not failed or unknown: {sorted(missing)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _transcribe(settings: Settings, args: argparse.Namespace) -> int:
    from dropscribe.commands.oneshot import transcribe_files

    return transcribe_files(settings, args.audio, args.out)


def _check(settings: Settings, args: argparse.Namespace) -> int:
    from dropscribe.commands.checks import run_checks

    problems = run_checks(settings, print, args.config_source, args.config_path)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK
