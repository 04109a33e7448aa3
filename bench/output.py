"""Benchmark of issue 13: what is written for a long recording, batched and sequential.

Runs the daemon's engine code (as bench.batched does) with ``batched = on``,
``off`` and ``parts`` on

- the real clips of the real recordings joined four times over with 1 s silences;
- the long reading fixture (espeak-ng) eight times over, continuous speech;

then builds the sidecar document and its cues as the daemon does, and
reports segments and cues: how many, the longest, the limits kept, and the
word error rate of each path.

Run: .venv/bin/python -m bench.output [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import numpy as np

from bench.batched import Engine, joined, load, wer
from bench.harness import REPO, machine, report
from dropscribe.outbox.cues import CueRules
from dropscribe.outbox.document import build_document
from dropscribe.outbox.formats import cues_of
from dropscribe.transcript import Document

FIXTURES = REPO / "tests" / "fixtures" / "audio"
#: Windows of ~29 s decoded in batches; sequential; parts cut at pauses side by side.
MODES = ("on", "off", "parts")


def document(engine: Engine, audio: Any, mode: str) -> tuple[Document, str, float]:
    """The sidecar document of ``audio``, how it was decoded, and its longest raw segment."""
    from dropscribe.backends.local.protocol import Job

    engine.engine.options = dataclasses.replace(engine.options, batched=mode)
    result, decoding = engine.engine.transcribe(
        Job(1, "bench", "auto", "transcribe", 1e9), audio, engine.engine.parallel, lambda _: None
    )
    longest = max((s["end"] - s["start"] for s in result.segments), default=0.0)
    built = build_document(result, source_path="a", sha256="0" * 64, size=1, backend="local")
    return built, str(decoding), longest


def describe(doc: Document, decoding: str, longest_raw: float, reference: str) -> str:
    rules = CueRules()
    cues = cues_of(doc, rules)
    segments = doc["response"]["segments"]
    seconds = [cue.end - cue.start for cue in cues]
    speeds = [sum(len(line) for line in cue.lines) / (cue.end - cue.start) for cue in cues]
    return (
        f"{decoding}; WER {wer(reference, doc['transcription']):.3f}; "
        f"segments {len(segments)} (raw longest {longest_raw:.1f} s, now longest "
        f"{max(s['end'] - s['start'] for s in segments):.1f} s, "
        f"{max(len(s['text']) for s in segments)} chars); "
        f"cues {len(cues)}, longest line {max(len(line) for c in cues for line in c.lines)} "
        f"chars, at most {max(len(c.lines) for c in cues)} lines, "
        f"{min(seconds):.2f}-{max(seconds):.2f} s, "
        f"{sum(s < rules.min_seconds for s in seconds)} under 1 s, "
        f"{sum(v > rules.chars_per_second for v in speeds)} over 20 chars/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    engine = Engine()
    rows: dict[str, str] = {"machine": machine()}
    corpora: dict[str, tuple[Any, str]] = {}
    reading = load(FIXTURES / "long_reading.flac")
    reading_text = (FIXTURES / "long_reading.txt").read_text()
    if args.smoke:
        corpora["fixture long_reading"] = (reading, reading_text)
    else:
        clips, clips_text = joined(1.0, repeat=4)
        corpora[f"shared clips joined 4x ({len(clips) / 16000:.0f} s)"] = (clips, clips_text)
        corpora["long reading 8x (246 s)"] = (np.concatenate([reading] * 8), reading_text * 8)
    for label, (audio, reference) in corpora.items():
        texts = {}
        for mode in MODES:
            doc, decoding, longest = document(engine, audio, mode)
            texts[mode] = doc["transcription"]
            rows[f"{label}, batched={mode}"] = describe(doc, decoding, longest, reference)
        rows[f"{label}, WER of on against off"] = f"{wer(texts['off'], texts['on']):.3f}"
    report("Output" + (" (smoke)" if args.smoke else ""), rows)


if __name__ == "__main__":
    main()
