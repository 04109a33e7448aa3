"""Job threads: the standard ThreadPoolExecutor against the hand-made pool it replaced.

The dispatcher's pattern, without the rest of the daemon: a loop hands out up to
``concurrency`` jobs at a time, each job does a little work on its thread and
wakes the loop, which hands out the next. Both pools run interleaved in one
process; the figures are per job (wall time and this process's CPU time).

Run: .venv/bin/python -m bench.job_threads [--jobs 20000] [--rounds 5] [--smoke]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench.harness import machine, report

CONCURRENCY = 16


class HandMadePool:
    """The pool of dispatcher.py before issue 12: threads kept idle on a queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._jobs.put(job)
        if spawn:
            thread = threading.Thread(target=self._serve, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class Executor:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(256)

    def submit(self, job: Callable[[], None]) -> None:
        self._pool.submit(job)

    def shutdown(self) -> None:
        self._pool.shutdown()


def run(pool: HandMadePool | Executor, jobs: int) -> tuple[float, float]:
    """Return (wall, CPU) microseconds per job for ``jobs`` jobs through ``pool``."""
    wake = threading.Event()
    lock = threading.Lock()
    active = [0]

    def job() -> None:
        sum(range(200))  # a little work, as a job does between its blocking calls
        with lock:
            active[0] -= 1
        wake.set()

    started, cpu = time.perf_counter(), time.process_time()
    handed = 0
    while handed < jobs:
        with lock:
            free = CONCURRENCY - active[0]
            active[0] += min(free, jobs - handed)
        for _ in range(min(free, jobs - handed)):
            pool.submit(job)
            handed += 1
        wake.wait(0.1)
        wake.clear()
    while active[0]:
        wake.wait(0.1)
        wake.clear()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    pool.shutdown()
    return 1e6 * wall / jobs, 1e6 * cpu / jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.rounds = 200, 1
    figures: dict[str, list[tuple[float, float]]] = {"hand-made pool": [], "executor": []}
    for _ in range(args.rounds):  # interleaved: the machine's load hits both alike
        figures["hand-made pool"].append(run(HandMadePool(), args.jobs))
        figures["executor"].append(run(Executor(), args.jobs))
    rows = {"machine": machine(), "jobs per round": str(args.jobs), "rounds": str(args.rounds)}
    for name, results in figures.items():
        wall = statistics.median(w for w, _ in results)
        cpu = statistics.median(c for _, c in results)
        rows[name] = f"median {wall:.1f} µs wall, {cpu:.1f} µs CPU per job"
    report("Job threads (smoke)" if args.smoke else "Job threads", rows)


if __name__ == "__main__":
    main()
