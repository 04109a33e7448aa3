"""Worker start-up: the wall time and the CPU each of the three worker processes costs.

Each round starts every worker once through the daemon's own calls, on one
short recording (fox.wav, 2.9 s), and reads the CPU of the worker process
(``RUSAGE_CHILDREN`` once it is reaped) and the wall time:

- the engine: ``LocalBackend.submit`` returns once the worker has loaded the
  model (the wall figure); its CPU is the start, the model load and the file;
- compacting: ``jobs.chunking.uploads.prepare`` of the file to Opus;
- speaker labels: ``speakers.runner.run_diarization`` of one word of it.

The same calls exist before and after issue 21's worker helper, so the script
measures either: run it with ``PYTHONPATH`` pointing at the other tree's ``src``.
After it, it also measures what the message format costs: a ``Finished`` message
of 1,000, 10,000 and 60,000 words through ``encode`` and ``decode``, against
pickle (this process's CPU, median of 5).

Run: .venv/bin/python -m bench.worker_start [--rounds 5] [--smoke]
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import FIXTURE_AUDIO, machine, report
from dropscribe.backends.base import Pending, Request
from dropscribe.backends.local.backend import LocalBackend
from dropscribe.config import OctoAISettings, Settings
from dropscribe.jobs.chunking.uploads import prepare
from dropscribe.speakers import request as speaker_request
from dropscribe.speakers import runner

FOX = FIXTURE_AUDIO / "fox.wav"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def engine() -> float:
    """Start an engine worker, transcribe the file; return the seconds until it was ready."""
    backend = LocalBackend(Settings())
    try:
        started = time.perf_counter()
        future = backend.submit(Request(1, FOX, FOX.name, FOX.stat().st_size, "auto", "transcribe"))
        ready = time.perf_counter() - started
        while isinstance(backend.poll(future, 1.0), Pending):
            pass
    finally:
        backend.close()
    return ready


def compacting() -> float:
    section = OctoAISettings.model_validate({})
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        prepare(FOX, Path(work), "opus", audio_limit=10**8, section=section, max_duration=3600)
        return time.perf_counter() - started


def labelling() -> float:
    # The request's home moved with issue 21 (runner before, request after).
    found = vars(speaker_request).get("DiarizeRequest") or vars(runner)["DiarizeRequest"]
    make: Any = found
    started = time.perf_counter()
    outcome = runner.run_diarization(
        make(str(FOX), [(0.3, 0.9)], speaker_request.CountLimits()), 300
    )
    assert outcome.warning is None, outcome.warning
    return time.perf_counter() - started


def measure(start: Callable[[], float]) -> tuple[float, float]:
    """Return the wall seconds ``start`` reports and the CPU seconds of its workers."""
    before = children_cpu()
    wall = start()
    return wall, children_cpu() - before


def cpu_ms(work: Callable[[], object]) -> float:
    """Return the median CPU milliseconds of five runs of ``work``."""
    times = []
    for _ in range(5):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def long_transcript(words: int) -> Any:
    """Return a transcription of ``words`` words, twelve a segment."""
    from dropscribe.transcript import Transcription, make_segment, make_word

    segments = []
    for first in range(0, words, 12):
        said = [
            make_word(f"word{n}", n * 0.3, n * 0.3 + 0.25, 0.9) for n in range(first, first + 12)
        ]
        text = " ".join(word["word"] for word in said)
        segments.append(make_segment(text, said[0]["start"], said[-1]["end"], said))
    return Transcription(segments, "en", words * 0.3, 1000.0)


def message_cost(words: int) -> str:
    """Return what sending a transcript of ``words`` words costs, against pickle."""
    from dropscribe.backends.local.protocol import WORKER_MESSAGES, Finished
    from dropscribe.workers.messages import decode, encode

    message = Finished(1, long_transcript(words), "parts", None)
    data, pickled = encode(message), pickle.dumps(message)
    assert decode(data, WORKER_MESSAGES) == message
    return (
        f"encode {cpu_ms(lambda: encode(message)):.1f} ms, "
        f"decode {cpu_ms(lambda: decode(data, WORKER_MESSAGES)):.1f} ms, pickle "
        f"{cpu_ms(lambda: pickle.loads(pickle.dumps(message))):.1f} ms; "
        f"{len(data) / 1e6:.2f} MB against {len(pickled) / 1e6:.2f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    workers = {"engine": engine, "compacting": compacting, "speaker labels": labelling}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in workers}
    for _ in range(rounds):
        for name, start in workers.items():
            figures[name].append(measure(start))
    rows: dict[str, Any] = {"machine": machine(), "rounds": rounds, "engine wall": "until ready"}
    for name, pairs in figures.items():
        wall = statistics.median(pair[0] for pair in pairs)
        cpu = statistics.median(pair[1] for pair in pairs)
        rows[name] = f"wall {wall:.2f} s, worker CPU {cpu:.2f} s (medians)"
    report("Worker start-up (smoke)" if args.smoke else "Worker start-up", rows)
    if importlib.util.find_spec("dropscribe.workers.messages") is not None:  # after issue 21
        sizes = [1_000] if args.smoke else [1_000, 10_000, 60_000]
        costs = {f"{words} words": message_cost(words) for words in sizes}
        report("Worker messages: JSON against pickle", costs)


if __name__ == "__main__":
    main()
