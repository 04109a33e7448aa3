"""Every remote protocol against a real server on 127.0.0.1, including its failures."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import structlog

from dropscribe.backends.base import Backend, Done, Failed, Future, Gone, Outcome, Pending, Request
from dropscribe.backends.remote.http import base64_json_body, retry_after_seconds
from dropscribe.errors import BadInput, Permanent, Retryable, ServerDown
from dropscribe.outbox.document import build_document, load_schema
from tests.helpers import AUDIO
from tests.remote_setup import SERVERS, TOKEN, make_backend
from tests.servers import FakeServer, Fault, OctoAIServer, OpenAIServer

ASYNC = ["octoai", "runpod", "replicate"]


def request(
    path: Path = AUDIO / "weather.mp3",
    job_id: int = 1,
    language: str = "auto",
    task: str = "transcribe",
) -> Request:
    return Request(job_id, path, path.name, path.stat().st_size, language, task)


def settle(backend: Backend, future: Future, timeout: float = 10) -> Outcome:
    polls = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(backend.poll_delay(polls))
        outcome = backend.poll(future, 0.2)
        polls += 1
        if not isinstance(outcome, Pending):
            return outcome
    raise AssertionError("no outcome in time")


def run(backend: Backend, job: Request) -> Outcome:
    """Submit and wait; an error, whether raised by submit or reported by poll, is raised."""
    outcome = settle(backend, backend.submit(job))
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome


@pytest.fixture(params=list(SERVERS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(name: str) -> Iterator[FakeServer]:
    with SERVERS[name]() as running:
        running.token = TOKEN
        yield running


@pytest.fixture
def backend(tmp_path: Path, name: str, server: FakeServer) -> Iterator[Backend]:
    made = make_backend(tmp_path, name, server.url)
    yield made
    made.close()


def sha8(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


# --- the contract, for every backend -----------------------------------------------------


def test_a_file_is_uploaded_whole_and_its_result_normalised(
    backend: Backend, server: FakeServer, name: str
) -> None:
    outcome = settle(backend, backend.submit(request()))
    assert isinstance(outcome, Done), outcome
    result = outcome.result
    assert sha8(AUDIO / "weather.mp3") in result.text
    document = build_document(
        result, source_path="weather.mp3", sha256="0" * 64, size=1, backend=name
    )
    jsonschema.validate(document, load_schema())
    words = document["response"]["word_segments"]
    assert [w["word"] for w in words] == ["Audio", sha8(AUDIO / "weather.mp3"), "received."]
    middle = server.submissions[0].audio_seconds
    assert middle is not None and middle > 2  # the server decoded the upload
    assert words[1]["start"] == pytest.approx(middle / 2 - 0.35, abs=0.002)
    assert words[1]["end"] == pytest.approx(middle / 2 + 0.25, abs=0.002)
    assert result.language == "en"
    assert len(server.submissions) == 1


def test_429_is_retried_after_the_servers_delay(backend: Backend, server: FakeServer) -> None:
    server.faults["submit"].append(Fault(429, b'{"error": "slow down"}', {"Retry-After": "7"}))
    with pytest.raises(Retryable) as caught:
        run(backend, request())
    assert caught.value.retry_after == 7.0 and caught.value.detail == "slow down"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(500, b'{"error": "boom"}'),
        Fault(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}),
        Fault(drop=True),
        Fault(200, b"{not json"),
    ],
    ids=["500", "502-html", "dropped", "malformed"],
)
def test_transient_submit_failures_are_retryable(
    backend: Backend, server: FakeServer, fault: Fault
) -> None:
    server.faults["submit"].append(fault)
    with pytest.raises(Retryable) as caught:
        run(backend, request())
    assert not isinstance(caught.value, ServerDown)
    outcome = settle(backend, backend.submit(request()))  # the next try goes through
    assert isinstance(outcome, Done)


def test_a_bad_token_makes_jobs_wait_and_is_never_echoed(
    tmp_path: Path, name: str, server: FakeServer
) -> None:
    wrong = make_backend(
        tmp_path,
        name,
        server.url,
        **{"openai": {"api_key": "wrong-key"}, "runpod": {"api_key": "wrong-key"}}.get(
            name, {"token": "wrong-key"}
        ),
    )
    try:
        with structlog.testing.capture_logs() as logs, pytest.raises(ServerDown) as caught:
            run(wrong, request())
        assert "refused the credentials (401)" in str(caught.value)
        assert "wrong-key" not in str(caught.value) + str(caught.value.detail) + str(logs)
    finally:
        wrong.close()


def test_a_server_that_is_down_makes_jobs_wait(backend: Backend, server: FakeServer) -> None:
    server.stop()
    with pytest.raises(ServerDown, match="cannot be reached"):
        run(backend, request())


def test_an_input_error_is_permanent_with_the_servers_message(
    backend: Backend, server: FakeServer
) -> None:
    server.faults["submit"].append(Fault(400, b'{"error": {"message": "Invalid file format."}}'))
    with pytest.raises(Permanent) as caught:
        run(backend, request())
    assert caught.value.detail == "Invalid file format."
    assert "Invalid file format." in str(caught.value)


def test_an_answer_larger_than_the_cap_is_refused(
    tmp_path: Path, name: str, server: FakeServer
) -> None:
    capped = make_backend(tmp_path, name, server.url, max_response_bytes=60)
    try:
        server.faults["submit"].append(Fault(200, b'{"padding": "' + b"x" * 100 + b'"}'))
        with pytest.raises(Permanent, match="larger than 60 bytes"):
            run(capped, request())
    finally:
        capped.close()


def test_a_file_gone_before_upload_is_bad_input(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "soon-gone.wav"
    path.write_bytes(b"RIFF")
    gone = request(path)
    path.unlink()
    with pytest.raises(BadInput, match="disappeared"):
        run(backend, gone)


def test_a_symbolic_link_is_never_read_for_an_upload(backend: Backend, tmp_path: Path) -> None:
    """Every protocol, the original bytes going out: the link's target stays unread."""
    link = tmp_path / "sneaky.wav"
    link.symlink_to(AUDIO / "weather.wav")
    with pytest.raises(BadInput, match="link"):
        run(backend, request(link))


# --- futures: polling, failures, expiry (the asynchronous protocols) -------------------


@pytest.fixture(params=ASYNC)
def async_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_poll_failures_are_ridden_out_until_the_result_comes(
    tmp_path: Path, async_name: str
) -> None:
    with SERVERS[async_name]() as server:
        backend = make_backend(tmp_path, async_name, server.url)
        future = backend.submit(request())
        server.faults["poll"].extend([Fault(503), Fault(drop=True), Fault(200, b"[garbage")])
        outcome = settle(backend, future)
        assert isinstance(outcome, Done)
        assert len(server.submissions) == 1
        backend.close()


def test_a_future_the_server_forgot_is_gone(tmp_path: Path, async_name: str) -> None:
    with SERVERS[async_name]() as server:
        backend = make_backend(tmp_path, async_name, server.url)
        future = backend.submit(request())
        server.jobs.clear()  # the server restarted, or the result expired there
        assert isinstance(backend.poll(future, 0.1), Gone)
        backend.close()


def test_a_future_past_its_retention_is_gone_when_the_server_cannot_confirm_it(
    tmp_path: Path, async_name: str
) -> None:
    with SERVERS[async_name]() as server:
        backend = make_backend(tmp_path, async_name, server.url)
        future = backend.submit(request())
        server.stop()
        assert isinstance(backend.poll(future, 0.1), Pending)  # within retention: wait
        future.expires_at = time.time() - 1
        assert isinstance(backend.poll(future, 0.1), Gone)
        backend.close()


def test_a_remote_failure_is_retryable_with_the_servers_words(
    tmp_path: Path, async_name: str
) -> None:
    with SERVERS[async_name]() as server:
        backend = make_backend(tmp_path, async_name, server.url)
        future = backend.submit(request())
        server.jobs[future.remote_id].status = "failed"
        outcome = settle(backend, future)
        assert isinstance(outcome, Failed) and isinstance(outcome.error, Retryable)
        assert outcome.error.detail in (
            "CUDA out of memory",
            "Failed to decode audio",
            "audio could not be read",
        )
        backend.close()


def test_polls_back_off_from_fast_to_a_bounded_pace(tmp_path: Path, async_name: str) -> None:
    backend = make_backend(
        tmp_path, async_name, "http://127.0.0.1:9", poll_initial_seconds=0.5, poll_max_seconds=15
    )
    delays = [backend.poll_delay(n) for n in range(20)]
    assert delays[0] == 0.5 and delays == sorted(delays) and delays[-1] == 15
    backend.close()


def test_poll_urls_on_another_host_are_refused(tmp_path: Path) -> None:
    with OctoAIServer() as server:
        backend = make_backend(tmp_path, "octoai", server.url)
        server.faults["submit"].append(
            Fault(
                201,
                json.dumps(
                    {"response_id": "x", "poll_url": "http://evil.example:8080/steal"}
                ).encode(),
            )
        )
        with pytest.raises(Permanent, match="not its own host"):
            backend.submit(request())
        allowed = make_backend(tmp_path, "octoai", server.url, allowed_hosts=["evil.example:8080"])
        server.faults["submit"].append(
            Fault(
                201,
                json.dumps(
                    {"response_id": "x", "poll_url": "http://evil.example:8080/ok"}
                ).encode(),
            )
        )
        assert allowed.submit(request()).poll_url == "http://evil.example:8080/ok"
        backend.close()
        allowed.close()


def test_a_cold_start_is_a_wait_not_a_failure(tmp_path: Path) -> None:
    with OctoAIServer() as server:
        backend = make_backend(tmp_path, "octoai", server.url)
        server.faults["health"].extend([Fault(503, b"warming up"), Fault(500)])
        for _ in range(2):
            with pytest.raises(ServerDown, match="not ready yet"):
                backend.submit(request())
        assert server.submissions == []
        assert isinstance(settle(backend, backend.submit(request())), Done)
        backend.close()


def test_the_async_header_language_and_task_reach_octoai(tmp_path: Path) -> None:
    with OctoAIServer() as server:
        backend = make_backend(tmp_path, "octoai", server.url)
        settle(backend, backend.submit(request(language="de", task="translate")))
        assert server.submissions[0].fields == {"language": "de", "task": "translate"}
        assert server.requests[-1][2]["authorization"] == f"Bearer {TOKEN}"
        backend.close()


# --- OpenAI-compatible servers differ ---------------------------------------------------


@pytest.mark.parametrize("style", ["openai", "segments", "text"])
def test_openai_compatible_answers_of_every_shape_are_normalised(
    tmp_path: Path, style: str
) -> None:
    server = OpenAIServer()
    server.style = style
    with server:
        backend = make_backend(tmp_path, "openai", server.url)
        outcome = settle(backend, backend.submit(request(language="en")))
        assert isinstance(outcome, Done)
        result = outcome.result
        assert sha8(AUDIO / "weather.mp3") in result.text
        words = [w for s in result.segments for w in s["words"]]
        assert len(words) == (0 if style == "text" else 3)
        assert result.language == (None if style == "text" else "en")
        fields = server.submissions[0].fields
        assert fields["response_format"] == ["verbose_json"]
        assert fields["timestamp_granularities[]"] == ["word", "segment"]
        assert fields["language"] == ["en"]
        backend.close()


def test_openai_translation_uses_the_translations_endpoint(tmp_path: Path) -> None:
    with OpenAIServer() as server:
        backend = make_backend(tmp_path, "openai", server.url)
        assert isinstance(settle(backend, backend.submit(request(task="translate"))), Done)
        assert server.submissions[0].fields["path"] == "/v1/audio/translations"
        backend.close()


def test_openai_plain_text_errors_keep_the_servers_words(tmp_path: Path) -> None:
    with OpenAIServer() as server:
        backend = make_backend(tmp_path, "openai", server.url)
        server.faults["submit"].append(
            Fault(415, b"unsupported media type: audio/x-foo", {"Content-Type": "text/plain"})
        )
        outcome = settle(backend, backend.submit(request()))
        assert isinstance(outcome, Failed) and isinstance(outcome.error, Permanent)
        assert outcome.error.detail == "unsupported media type: audio/x-foo"
        backend.close()


def test_a_restarted_daemon_finds_an_openai_request_gone(tmp_path: Path) -> None:
    with OpenAIServer() as server:
        first = make_backend(tmp_path, "openai", server.url)
        future = first.submit(request())
        second = make_backend(tmp_path, "openai", server.url)
        assert isinstance(second.poll(future, 0.1), Gone)
        first.close()
        second.close()


# --- streaming uploads ----------------------------------------------------------------


def test_uploads_are_encoded_piece_by_piece_with_an_exact_length(tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(bytes(range(256)) * 12_000)  # about 3 MB: several chunks
    chunks, length = base64_json_body(big, b'{"audio": "', b'"}')
    pieces = list(chunks)
    assert len(pieces) >= 4
    assert max(len(p) for p in pieces) <= 4 * 3 * 256 * 1024 // 3 + 16
    body = b"".join(pieces)
    assert len(body) == length
    assert json.loads(body)["audio"][:8] == "AAECAwQF"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_request_bodies_reach_the_socket_in_few_large_pieces() -> None:
    from dropscribe.backends.remote.http import SEND_AT_LEAST, CoalescedStream

    class Pieces:
        closed = False

        def __init__(self, pieces: list[bytes]) -> None:
            self.pieces = pieces

        def __iter__(self) -> Iterator[bytes]:
            return iter(self.pieces)

        def close(self) -> None:
            self.closed = True

    small = [b"--boundary\r\n", b"Content-Disposition: form-data\r\n\r\n", b"x" * 100, b"\r\n"]
    big = b"y" * (2 * SEND_AT_LEAST)
    source = Pieces([*small, big, *small])
    stream = CoalescedStream(source)
    sent = list(stream)
    assert b"".join(sent) == b"".join(source.pieces)
    assert len(sent) == 3  # the small pieces joined, the big one as it came
    assert sent[1] is big  # large pieces are not copied: uploads stay streamed
    stream.close()
    assert source.closed
