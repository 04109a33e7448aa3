"""A server that turns hostile or breaks: what it says never carries our secrets
out, never hangs a job, and never becomes a file strict JSON parsers refuse."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from dropscribe.backends.base import Backend, Done, Failed
from dropscribe.errors import Permanent, ServerDown, ServerTrouble, remember_secret, scrub
from dropscribe.outbox.document import build_document
from dropscribe.service import logs
from tests.remote_setup import SERVERS, TOKEN, make_backend
from tests.servers import FakeServer, Fault, RunPodServer
from tests.test_remote_backends import request, run, settle

ASYNC = ["octoai", "runpod", "replicate"]


def strict_loads(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(params=ASYNC)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(name: str) -> Iterator[FakeServer]:
    with SERVERS[name]() as running:
        running.token = TOKEN
        yield running


@pytest.fixture
def backend(tmp_path: Path, name: str, server: FakeServer) -> Iterator[Backend]:
    made = make_backend(tmp_path, name, server.url, timeout_seconds=1)
    yield made
    made.close()


def test_a_401_quoting_our_authorization_header_leaks_no_token(
    backend: Backend, server: FakeServer
) -> None:
    echo = json.dumps({"error": f"bad credentials in 'Authorization: Bearer {TOKEN}'"})
    server.faults["submit"].append(Fault(401, echo.encode()))
    with structlog.testing.capture_logs() as logs, pytest.raises(ServerDown) as caught:
        run(backend, request())
    said = str(caught.value) + str(caught.value.detail) + str(logs)
    assert TOKEN not in said
    assert "Bearer [redacted]" in str(caught.value.detail)


def test_a_refusal_holding_the_token_anywhere_is_scrubbed(
    backend: Backend, server: FakeServer
) -> None:
    server.faults["submit"].append(Fault(400, f"you sent {TOKEN} which is wrong".encode()))
    with pytest.raises(Permanent) as caught:
        run(backend, request())
    assert TOKEN not in str(caught.value) + str(caught.value.detail)
    assert "[redacted]" in str(caught.value)
    assert scrub(f"x{TOKEN}y") == "x[redacted]y"


def test_an_answer_trickling_a_byte_at_a_time_is_abandoned(
    backend: Backend, server: FakeServer
) -> None:
    server.faults["submit"].append(Fault(200, b'{"id": "' + b"x" * 200 + b'"}', trickle=0.2))
    started = time.monotonic()
    with pytest.raises(ServerTrouble, match="did not arrive whole within 1 s"):
        backend.submit(request())
    assert time.monotonic() - started < 20  # the 40 s it would take to trickle in


def test_a_redirect_on_a_poll_is_a_final_error_naming_where_it_pointed(
    backend: Backend, server: FakeServer
) -> None:
    server.faults["poll"].append(Fault(302, b"", {"Location": "https://elsewhere.example/x"}))
    outcome = settle(backend, backend.submit(request()))
    assert isinstance(outcome, Failed) and isinstance(outcome.error, Permanent)
    assert "redirected the request (302) to https://elsewhere.example/x" in str(outcome.error)


def test_an_answer_nested_100000_deep_is_one_malformed_answer(
    backend: Backend, server: FakeServer
) -> None:
    server.faults["poll"].append(Fault(200, b"[" * 100_000 + b"]" * 100_000))
    outcome = settle(backend, backend.submit(request()))
    assert isinstance(outcome, Failed) and isinstance(outcome.error, Permanent)
    assert "malformed answer (JSON nested too deeply to read)" in str(outcome.error)


def test_non_finite_negative_and_reversed_times_never_reach_a_sidecar(tmp_path: Path) -> None:
    answer = (
        b'{"id": "x", "status": "COMPLETED", "output": {"detected_language": "en", '
        b'"duration": NaN, "segments": ['
        b'{"start": NaN, "end": 2.0, "text": " Lost.", "avg_logprob": -Infinity},'
        b'{"start": -1.5, "end": 1.0, "text": " Early.", "avg_logprob": NaN,'
        b' "compression_ratio": 1.1},'
        b'{"start": 3.0, "end": 2.5, "text": " Backwards.", "avg_logprob": -0.2,'
        b' "compression_ratio": Infinity, "no_speech_prob": 0.1}],'
        b'"word_timestamps": [{"word": "Early.", "start": Infinity, "end": 1.0},'
        b'{"word": "Backwards.", "start": 3.0, "end": 2.0}]}}'
    )
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        server.faults["poll"].append(Fault(200, answer))
        outcome = settle(backend, backend.submit(request()))
        backend.close()
    assert isinstance(outcome, Done), outcome
    result = outcome.result
    assert [(s["start"], s["end"], s["text"]) for s in result.segments] == [
        (0.0, 1.0, " Early."),
        (3.0, 3.0, " Backwards."),
    ]
    assert [(w["word"], w["start"], w["end"]) for w in result.segments[1]["words"]] == [
        ("Backwards.", 3.0, 3.0)
    ]
    assert result.segments[0]["words"] == []  # its only word had no finite start
    assert result.duration == 3.0
    document = build_document(result, source_path="a.wav", sha256="0" * 64, size=1, backend="x")
    strict_loads(json.dumps(document, allow_nan=False))


def test_a_transcript_echoing_the_token_loses_it_and_keeps_its_words(tmp_path: Path) -> None:
    said = f" The bearer bonds, Bearer {TOKEN}, basic."
    answer = {
        "id": "x",
        "status": "COMPLETED",
        "output": {"segments": [{"start": 0.0, "end": 1.0, "text": said}]},
    }
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        server.faults["poll"].append(Fault(200, json.dumps(answer).encode()))
        outcome = settle(backend, backend.submit(request()))
        backend.close()
    assert isinstance(outcome, Done)
    assert outcome.result.text == " The bearer bonds, Bearer [redacted], basic."
    assert scrub("Authorization: Bearer abcdefghijklmnopq") == "Authorization: Bearer [redacted]"
    assert scrub("the bearer bonds were basic") == "the bearer bonds were basic"


def test_no_log_line_carries_a_known_secret_whatever_key_holds_it() -> None:
    remember_secret(TOKEN)
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    log = structlog.get_logger("test")
    log.warning("poll_failed", error=f"server said {TOKEN}", answer={"echo": [TOKEN]})
    try:
        raise ValueError(f"Authorization: Bearer {TOKEN}")
    except ValueError:
        log.exception("job_crashed")
    written = stream.getvalue()
    assert TOKEN not in written and written.count("[redacted]") >= 3


def test_headers_trickling_a_byte_at_a_time_are_abandoned_too(
    backend: Backend, server: FakeServer
) -> None:
    server.faults["submit"].append(Fault(200, b'{"id": "x"}', trickle=0.2, trickle_head=True))
    started = time.monotonic()
    with pytest.raises(ServerTrouble, match="did not arrive whole within 1 s"):
        backend.submit(request())
    assert time.monotonic() - started < 20  # the 40 s the headers alone would take
