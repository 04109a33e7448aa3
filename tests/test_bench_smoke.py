"""Each benchmark runs in its smallest form, so the benchmarks cannot rot.

No timing is asserted here: the figures are in bench/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent


@pytest.mark.parametrize(
    ("module", "heading"),
    [
        ("bench.engine_vs_daemon", "## Local engine against the bare engine"),
        ("bench.pipeline", "## Latency"),
        ("bench.scale", "## Memory and scale"),
        ("bench.batched", "## Batched decoding (smoke)"),
        ("bench.long_recordings", "## One long recording: daemon against the bare loop"),
        ("bench.diarize", "## Speaker labels"),
        ("bench.remote_uploads", "## Compact uploads and chunks (remote engines)"),
        ("bench.serverless_chunks", "## Serverless chunks, drop to transcript"),
        ("bench.output", "## Output (smoke)"),
        ("bench.hostile_memory", "## Worker peak memory on crafted headers (smoke)"),
        ("bench.vad_filter", "## vad_filter on and off"),
        ("bench.job_threads", "## Job threads (smoke)"),
        ("bench.vocabulary", "## Vocabulary: terms right, and the rest"),
        ("bench.vocabulary_rest", "## Vocabulary: the rest, utterance by utterance"),
        ("bench.coverage", "## Coverage pass (issue 25)"),
        ("bench.remote_coverage", "## Coverage pass on remote engines (issue 25)"),
        ("bench.worker_start", "## Worker start-up (smoke)"),
        ("bench.as_is_hearing", "## Issue 25: hearing a file uploaded as it is"),
    ],
)
def test_the_benchmark_runs_in_its_smoke_form(module: str, heading: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert heading in result.stdout
    assert "- machine:" in result.stdout
