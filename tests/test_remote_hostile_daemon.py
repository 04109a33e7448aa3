"""A running daemon with a token against a server that misbehaves, one way per file:
the daemon lives on, each file has one clear outcome, every file it writes is strict
JSON, and the token is nowhere but in the requests' own headers."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.helpers import AUDIO, DaemonProcess, wait_for, write_config
from tests.remote_setup import FAST_POLLS, NO_COVERAGE, TOKEN
from tests.servers import RemoteJob, Reply, RunPodServer
from tests.test_daemon import finished

#: What the server does with each file's job.
PLANS = (
    "normal",  # answered as the worker does
    "echo_401",  # its first submission refused, quoting our Authorization header
    "echo_400",  # refused for good, quoting the token
    "trickle",  # its first two results sent a byte at a time, slower than any deadline
    "redirect",  # a poll answered 302
    "non_finite",  # times and scores NaN, Infinity, negative, reversed
    "deep",  # a result nested 100,000 levels deep
    "huge",  # a 300 MB result
)


class HostileServer(RunPodServer):
    """RunPod's protocol (see RunPodServer), each job answered as its audio's plan says."""

    def __init__(self) -> None:
        super().__init__()
        self.pending_polls = 1
        self.plans: dict[str, str] = {}
        self.times: Counter[str] = Counter()

    def plan_of(self, audio_sha256: str) -> str:
        plan = self.plans.get(audio_sha256, "normal")
        with self.lock:
            self.times[plan] += 1
            return f"{plan}:{self.times[plan]}"

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST":
            audio = base64.b64decode(json.loads(body)["input"]["audio_base64"])
            if self.plan_of(hashlib.sha256(audio).hexdigest()) == "echo_401:1":
                quoted = f"invalid header 'Authorization: {headers['authorization']}'"
                return Reply.json(401, {"error": quoted})
        return super().handle(method, path, headers, body)

    def finished(self, job: RemoteJob) -> Reply:
        plan, _, times = self.plan_of(job.audio_sha256).partition(":")
        normal = super().finished(job)
        if plan == "echo_400":
            return Reply.json(400, {"error": f"token {TOKEN} may not transcribe this"})
        if plan == "trickle" and int(times) <= 3:  # its submission counted 1
            return Reply(200, normal.body, normal.headers, trickle=0.5)
        if plan == "redirect":
            return Reply(302, b"", {"Location": "https://elsewhere.example/moved"})
        if plan == "non_finite":
            return Reply(200, NON_FINITE)
        if plan == "deep":
            return Reply(200, b"[" * 100_000 + b"]" * 100_000)
        if plan == "huge":
            return Reply(200, b" " * 2**20, repeat=300)
        return normal

    def advance(self, job: RemoteJob) -> bool:
        return super().advance(job) or job.polls_left < 0


NON_FINITE = (
    b'{"id": "x", "status": "COMPLETED", "output": {"detected_language": "en", "segments": ['
    b'{"start": NaN, "end": 2.0, "text": " Lost.", "avg_logprob": -Infinity},'
    b'{"start": -1.5, "end": 1.0, "text": " Early.", "avg_logprob": NaN},'
    b'{"start": 3.0, "end": 2.5, "text": " Backwards.", "avg_logprob": -0.2,'
    b' "compression_ratio": Infinity, "no_speech_prob": 0.1}]}}'
)


def strict(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def jobs_json(config: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "dropscribe", "jobs", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert TOKEN not in done.stdout + done.stderr
    listed: list[dict[str, Any]] = strict(done.stdout)
    return listed


def test_a_hostile_server_leaves_each_file_one_clear_outcome_and_no_secret(
    workdir: Path,
) -> None:
    server = HostileServer()
    server.token = TOKEN
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    for n, plan in enumerate(PLANS):
        content = (AUDIO / "numbers.wav").read_bytes() + bytes(n)
        server.plans[hashlib.sha256(content).hexdigest()] = plan
        (workdir / f"{plan}.wav").write_bytes(content)
    with server:
        config = write_config(
            workdir,
            {
                "transcribe": {"backend": "runpod", "max_attempts": 3},
                "backends.runpod": {
                    **FAST_POLLS,
                    **NO_COVERAGE,  # each plan's answer is the test's, not a coverage pass's
                    "base_url": f"{server.url}/v2",
                    "endpoint_id": server.endpoint,
                    "api_key": TOKEN,
                    "timeout_seconds": 2,
                    "max_response_bytes": 5 * 2**20,
                    "upload_format": "original",
                    "concurrency": len(PLANS),
                },
            },
        )
        with DaemonProcess(config) as daemon:
            daemon.wait_event("ready", timeout=30)
            for plan in PLANS:
                (workdir / f"{plan}.wav").rename(inbox / f"{plan}.wav")
            wait_for(lambda: all(finished(outbox, p) for p in PLANS), 120, "every outcome")
            assert daemon.process is not None and daemon.process.poll() is None  # alive
            listed = {Path(job["path"]).stem: job for job in jobs_json(config)}
            assert daemon.stop() == 0
    states = {plan: listed[plan]["state"] for plan in PLANS}
    assert states == {
        "normal": "done",
        "echo_401": "done",  # waited for the credentials, then went through
        "echo_400": "failed",
        "trickle": "done",  # the trickling answers abandoned, the next one read
        "redirect": "failed",
        "non_finite": "done",
        "deep": "failed",
        "huge": "failed",
    }
    errors = {
        p: strict((outbox / f"{p}.error.json").read_text())["error"]
        for p in PLANS
        if states[p] == "failed"
    }
    assert "[redacted] may not transcribe this" in errors["echo_400"]
    assert "redirected the request (302) to https://elsewhere.example/moved" in errors["redirect"]
    assert "nested too deeply" in errors["deep"] and listed["deep"]["attempts"] == 1
    assert "larger than 5242880 bytes" in errors["huge"]
    normal = strict((outbox / "normal.json").read_text())
    assert normal["duration"] == 3.491  # the WAV header's, not the last segment's end
    repaired = strict((outbox / "non_finite.json").read_text())
    assert [s["text"] for s in repaired["response"]["segments"]] == [" Early.", " Backwards."]
    log = daemon.log_path.read_text()
    assert "did not arrive whole within 2 s" in log and "refused the credentials" in log
    for path in [*outbox.rglob("*"), *(workdir / "failed").rglob("*"), daemon.log_path]:
        if path.is_file():
            text = path.read_bytes().decode(errors="replace")
            assert TOKEN not in text, path
            if path.suffix == ".json":
                strict(text)
    for path in (workdir / "state").rglob("*"):
        assert TOKEN.encode() not in path.read_bytes(), path
    sent = [headers.get("authorization") for _, _, headers in server.requests]
    assert sent and set(sent) == {f"Bearer {TOKEN}"}  # in its own headers, and only there
