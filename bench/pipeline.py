"""Benchmarks 2 and 3: pipeline overhead and latency, with a backend that answers at once.

2. Throughput: N small files dropped into a running daemon whose backend is an
   OpenAI-compatible server on 127.0.0.1 answering instantly; files per second
   from the first drop to the last sidecar, and the daemon's CPU milliseconds
   per file.
3. Latency: files dropped one at a time (20 a second), from the moment each is
   complete in the inbox (renamed in) to its submission, 50th and 99th percentile.

Run: .venv/bin/python -m bench.pipeline [--files 2000] [--smoke]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

from bench.harness import REPO, Daemon, cpu_seconds, fresh_dir, machine, report, write_config
from bench.instant_server import InstantServer

WORK = REPO / "bench" / "results" / "pipeline"
SETTLE = 0.5


def config_for(work: Path, url: str) -> Path:
    return write_config(
        work,
        f"""
[watch]
settle_seconds = {SETTLE}
[transcribe]
backend = "openai"
[backends.openai]
base_url = "{url}/v1"
concurrency = 16
# The daemon's own overhead is measured: the bytes go out as they are, not re-encoded.
upload_format = "original"
[log]
format = "json"
""",
    )


def drop(inbox: Path, name: str, content: bytes) -> float:
    """Write under a hidden name, rename in (as uploaders do); return when it became complete."""
    hidden = inbox / f".{name}.part"
    hidden.write_bytes(content)
    os.rename(hidden, inbox / name)
    return time.time()


def events(log: Path, name: str) -> dict[str, float]:
    """Return file -> wall-clock time of each ``name`` event in the daemon's log."""
    found = {}
    for line in log.read_text().splitlines():
        if f'"event": "{name}"' in line:
            event = json.loads(line)
            moment = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            found[event["file"]] = moment.timestamp()
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def machine_idle() -> tuple[float, float]:
    """Return (idle, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def throughput(count: int) -> dict[str, str]:
    work = fresh_dir(WORK / "throughput")
    inbox = work / "inbox"
    inbox.mkdir()
    server = InstantServer()
    daemon = Daemon(config_for(work, server.url))
    try:
        daemon.wait_log('"event": "ready"', timeout=60)
        cpu_before = cpu_seconds(daemon.process.pid)
        own_before = time.process_time()
        idle_before = machine_idle()
        first = time.time()
        for n in range(count):
            drop(inbox, f"clip{n:05d}.wav", os.urandom(2048))
        dropped = time.time()
        daemon.wait_log('"event": "job_done"', timeout=600, count=count)
        cpu = cpu_seconds(daemon.process.pid) - cpu_before
        own = time.process_time() - own_before
        idle_after = machine_idle()
    finally:
        daemon.stop()
        server.close()
    done = events(daemon.log, "job_done")
    submitted = events(daemon.log, "job_submitted")
    last = max(done.values())
    overall = count / (last - first)
    after_settle = count / (last - min(submitted.values()))
    return {
        "files": str(count),
        "dropping them took, s": f"{dropped - first:.2f}",
        "first drop to last sidecar, s": f"{last - first:.2f}",
        "files per second, first drop to last sidecar (settle time included)": f"{overall:.0f}",
        "files per second, first submission to last sidecar": f"{after_settle:.0f}",
        "daemon CPU per file, ms": f"{1000 * cpu / count:.2f}",
        "this script's CPU per file (dropping, the server, watching the log), ms": (
            f"{1000 * own / count:.2f}"
        ),
        "machine idle while it ran, share of all cores": (
            f"{(idle_after[0] - idle_before[0]) / (idle_after[1] - idle_before[1]):.0%}"
        ),
        "requests the server saw": str(server.requests),
    }


def latency(count: int, rate: float) -> dict[str, str]:
    work = fresh_dir(WORK / "latency")
    inbox = work / "inbox"
    inbox.mkdir()
    server = InstantServer()
    daemon = Daemon(config_for(work, server.url))
    complete = {}
    try:
        daemon.wait_log('"event": "ready"', timeout=60)
        for n in range(count):
            name = f"call{n:04d}.wav"
            complete[name] = drop(inbox, name, os.urandom(4096))
            time.sleep(1 / rate)  # a steady trickle of uploads
        daemon.wait_log('"event": "job_done"', timeout=120, count=count)
    finally:
        daemon.stop()
        server.close()
    submitted = events(daemon.log, "job_submitted")
    delays = [submitted[name] - complete[name] for name in complete]
    return {
        "files, dropped one at a time": f"{count} at {rate:.0f} a second",
        "settle_seconds": str(SETTLE),
        "complete -> submitted, p50 ms": f"{1000 * statistics.median(delays):.0f}",
        "complete -> submitted, p99 ms": f"{1000 * percentile(delays, 0.99):.0f}",
        "p99 minus settle_seconds, ms": f"{1000 * (percentile(delays, 0.99) - SETTLE):.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--latency-files", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few files only")
    args = parser.parse_args()
    if args.smoke:
        args.files, args.latency_files = 20, 10
    report("Pipeline overhead", {"machine": machine(), **throughput(args.files)})
    report("Latency", latency(args.latency_files, 20.0))


if __name__ == "__main__":
    main()
