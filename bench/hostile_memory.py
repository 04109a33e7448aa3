"""Benchmark of issue 18: the worker's peak memory on files with crafted headers.

Each crafted file (tests/hostile_media.py) goes to a fresh local engine worker
that has first transcribed one real clip; the figure is the worker's peak
resident memory (VmHWM) after the crafted file, against the peak before it.
Run with the duration limit at 600 s and at the default 6 hours, the
worker's memory ceiling at 4 GiB.

``--decoders`` instead decodes each file alone in a child process capped at
12 GiB of address space, the limit at 6 hours, as the worker did before
issue 18 (faster-whisper's ``decode_audio``, the duration checked
afterwards) and as it does now (audio/decode.py), and reports each child's
peak (``wait4``'s ``ru_maxrss``).

Run: .venv/bin/python -m bench.hostile_memory [--decoders] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import REPO, machine, report
from dropscribe.backends.base import Outcome, Pending, Request
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.config import load_settings
from tests.helpers import AUDIO, write_config
from tests.hostile_media import crafted_files

#: The worker's memory ceiling here, below the default (half of this 24 GB machine),
#: so a file whose transcription outgrows it is stopped soon.
CEILING_MB = 4096

DECODERS = {
    "before (faster-whisper's decode_audio)": (
        "from faster_whisper.audio import decode_audio\n"
        "print(len(decode_audio(sys.argv[1], sampling_rate=16000)) / 16000)"
    ),
    "after (audio/decode.py)": (
        "from dropscribe.audio.decode import decode_file\n"
        "from dropscribe.errors import BadInput\n"
        "try:\n    print(decode_file(sys.argv[1], 6 * 3600).duration)\n"
        "except BadInput as exc:\n    print('refused:', str(exc)[:40])"
    ),
}
CHILD = """
import sys, resource
resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, 12 * 2**30))
"""


def peak_mb(pid: int) -> float:
    """Return the process's peak resident memory so far (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def settle(
    backend: LocalBackend, path: Path, job_id: int, limit: float
) -> tuple[Outcome, float, float]:
    """Return the outcome, the wall time and the worker's peak memory while it lived."""
    started = time.perf_counter()
    request = Request(job_id, path, path.name, path.stat().st_size, "auto", "transcribe", limit)
    future = backend.submit(request)
    pid, peak = int(future.data["pid"]), 0.0
    while True:
        peak = max(peak, peak_mb(pid))  # sampled: a worker past its ceiling is killed
        outcome = backend.poll(future, 0.2)
        if not isinstance(outcome, Pending):
            peak = max(peak, peak_mb(pid))
            return outcome, time.perf_counter() - started, peak


def worker_peak(path: Path, limit: float, work: Path) -> dict[str, Any]:
    """Return the peak before and after ``path`` in a fresh worker, and what became of it."""
    config = write_config(
        work,
        {
            "transcribe": {"max_duration_seconds": limit},
            "backends.local": {"max_memory_mb": CEILING_MB},
        },
    )
    backend = LocalBackend(load_settings(config))
    try:
        _, _, before = settle(backend, AUDIO / "weather.wav", 1, limit)
        outcome, seconds, after = settle(backend, path, 2, limit)
    finally:
        backend.close()
    error = getattr(outcome, "error", None)
    return {
        "before": before,
        "after": after,
        "seconds": seconds,
        "outcome": str(error)[:90] if error else type(outcome).__name__,
    }


def decoder_peak(code: str, path: Path) -> str:
    """Return the peak memory, time and result of ``code`` decoding ``path`` in a child."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD + code, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as child:
        # wait4, not wait: it returns the child's own peak resident memory.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        assert child.stdout is not None
        decoded = child.stdout.read().decode().strip()
    if decoded.startswith("refused"):
        what = decoded
    else:
        what = f"{float(decoded):.0f} s decoded" if decoded else f"failed (status {status})"
    return f"{usage.ru_maxrss / 1024:.0f} MB peak, {seconds:.1f} s, {what}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--decoders", action="store_true", help="decoding alone, before and after issue 18"
    )
    parser.add_argument("--smoke", action="store_true", help="one file, one limit")
    arguments = parser.parse_args()
    limits = [600.0] if arguments.smoke else [600.0, 6 * 3600.0]
    with tempfile.TemporaryDirectory(dir=REPO / "bench") as temporary:
        work = Path(temporary)
        files = crafted_files(work / "crafted")
        rows: dict[str, Any]
        if arguments.smoke:
            files = dict(list(files.items())[:1])
        if arguments.decoders:
            for label, code in DECODERS.items():
                rows = {"machine": machine()}
                for what, path in files.items():
                    rows[what] = decoder_peak(code, path)
                report(f"Decoding alone, max 6 h: {label}", rows)
            return
        for limit in limits:
            rows = {"machine": machine()}
            for what, path in files.items():
                found = worker_peak(path, limit, work)
                rows[f"{what} ({path.stat().st_size // 1024} KB)"] = (
                    f"peak {found['before']:.0f} → {found['after']:.0f} MB "
                    f"({found['after'] - found['before']:+.0f}), {found['seconds']:.2f} s: "
                    f"{found['outcome']}"
                )
            title = "Worker peak memory on crafted headers" + (
                " (smoke)" if arguments.smoke else ""
            )
            report(f"{title}, max_duration_seconds = {limit:.0f}", rows)


if __name__ == "__main__":
    main()
