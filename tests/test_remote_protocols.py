"""The remote engines as the real workers and services answer (each server in
tests/servers.py names the code or documentation it was written from)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import structlog

from dropscribe.backends.base import Backend, Done, Failed, Gone
from dropscribe.backends.local.quality import SegmentScore, transcript_warnings
from dropscribe.backends.remote.hosts import HostPolicy
from dropscribe.errors import Permanent, Retryable, ServerDown
from tests.helpers import AUDIO
from tests.remote_setup import TOKEN, make_backend
from tests.servers import (
    RUNPOD_MODELS,
    UNSURE,
    Fault,
    OctoAIServer,
    OpenAIServer,
    RemoteJob,
    ReplicateServer,
    Reply,
    RunPodServer,
)
from tests.test_remote_backends import request, settle


def sha8(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def done(backend: Backend, language: str = "auto", task: str = "transcribe") -> Done:
    outcome = settle(backend, backend.submit(request(language=language, task=task)))
    assert isinstance(outcome, Done), outcome
    return outcome


# --- RunPod's faster-whisper worker -------------------------------------------------------


def test_a_runpod_translation_is_the_workers_translation_with_its_times_and_language(
    tmp_path: Path,
) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        result = done(backend, language="fr", task="translate").result
        backend.close()
    asked = server.submissions[0].fields
    assert asked["translate"] is True and asked["translation"] == "srt"
    assert result.text == f" Translated {sha8(AUDIO / 'weather.mp3')}."
    (segment,) = result.segments
    # The cue's times (the original segment's, in the middle of the audio); no words,
    # as the worker times none in its translating pass.
    middle = (server.submissions[0].audio_seconds or 0) / 2
    assert segment["start"] == pytest.approx(middle - 0.75, abs=0.002)
    assert segment["end"] == pytest.approx(middle + 0.75, abs=0.002)
    assert segment["words"] == []
    assert result.language == "fr"  # detected_language


def test_a_runpod_plain_text_translation_spans_the_recording(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        finished = server.finished

        def plain(job: RemoteJob) -> Reply:
            job.fields["translation"] = "plain_text"  # an older worker: text only
            return finished(job)

        server.finished = plain  # type: ignore[method-assign]
        result = done(backend, task="translate").result
        backend.close()
    (segment,) = result.segments
    assert segment["text"] == f" Translated {sha8(AUDIO / 'weather.mp3')}."
    assert segment["start"] == 0.0 and segment["words"] == []


def test_a_replicate_translation_is_the_translation_not_the_spoken_words(tmp_path: Path) -> None:
    with ReplicateServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "replicate", server.url)
        result = done(backend, task="translate").result
        backend.close()
    assert result.text == f" Translated {sha8(AUDIO / 'weather.mp3')}."
    assert "received" not in result.text


@pytest.mark.parametrize("server_class", [RunPodServer, ReplicateServer, OpenAIServer])
def test_every_engines_decoder_scores_are_judged_by_the_local_engines_rules(
    tmp_path: Path, server_class: type[RunPodServer | ReplicateServer | OpenAIServer]
) -> None:
    name = {RunPodServer: "runpod", ReplicateServer: "replicate", OpenAIServer: "openai"}
    with server_class() as server:
        server.token = TOKEN
        server.scores = UNSURE
        if isinstance(server, OpenAIServer):
            server.style = "segments"
        backend = make_backend(tmp_path, name[server_class], server.url)
        result = done(backend).result
        backend.close()
    (segment,) = result.segments
    score = SegmentScore(segment["start"], segment["end"], -1.45, 2.9, 0.02)
    expected = transcript_warnings(result.segments, [score], None, 0.0, english_only=False)
    assert result.warnings == expected
    assert any("unsure" in w for w in expected) and any("repeats itself" in w for w in expected)


def test_a_confident_transcript_gets_no_warning(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        assert done(backend).result.warnings == []
        backend.close()


def test_an_invalid_model_name_fails_at_once_in_one_sentence(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url, model="large-v4")
        with structlog.testing.capture_logs() as logs:
            outcome = settle(backend, backend.submit(request()))
        backend.close()
    assert isinstance(outcome, Failed) and isinstance(outcome.error, Permanent)
    said = str(outcome.error)
    assert said.startswith("The runpod worker refused the job: Invalid model name: large-v4.")
    assert f"one of {', '.join(RUNPOD_MODELS)}" in said
    assert "Traceback" not in said + str(outcome.error.detail)
    assert said.count("\n") == 0
    (logged,) = [e for e in logs if e["event"] == "worker_failed"]
    assert "Traceback" in logged["detail"]  # the detail lives in the log


def test_a_validation_error_from_the_worker_is_final(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        refused = {"id": "x", "status": "FAILED", "error": ["beam_size should be int type."]}
        server.faults["poll"].append(Fault(200, json.dumps(refused).encode()))
        outcome = settle(backend, backend.submit(request()))
        backend.close()
    assert isinstance(outcome, Failed) and isinstance(outcome.error, Permanent)
    assert "beam_size should be int type" in str(outcome.error)


def test_a_worker_crash_stays_retryable_without_its_traceback(tmp_path: Path) -> None:
    raised = json.dumps(
        {
            "error_type": "<class 'RuntimeError'>",
            "error_message": "CUDA failed with error out of memory",
            "error_traceback": 'Traceback (most recent call last):\n  File "x.py"\n',
        }
    )
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        failed = {"id": "x", "status": "FAILED", "error": raised}
        server.faults["poll"].append(Fault(200, json.dumps(failed).encode()))
        outcome = settle(backend, backend.submit(request()))
        backend.close()
    assert isinstance(outcome, Failed) and isinstance(outcome.error, Retryable)
    assert str(outcome.error) == (
        "The runpod worker refused the job: CUDA failed with error out of memory."
    )


def test_a_runpod_compatible_server_without_health_gets_its_jobs(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        server.has_health = False  # 404, as the runpod SDK's own test API
        backend = make_backend(tmp_path, "runpod", server.url)
        assert done(backend).result.text
        backend.close()


def test_every_remote_backend_can_name_or_turn_off_its_health_url(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        off = make_backend(tmp_path, "runpod", server.url, health_url="")
        done(off)
        off.close()
        assert not [path for _, path, _ in server.requests if path.endswith("/health")]
        ready = f"{server.url}/status/health"
        named = make_backend(tmp_path, "runpod", server.url, health_url=ready)
        server.faults["health"].append(Fault(503, b"warming up"))
        with pytest.raises(ServerDown, match="not ready yet"):
            named.submit(request())
        named.close()
        assert server.requests[-1][1] == "/status/health"


# --- OctoAI -------------------------------------------------------------------------------


def test_octoai_polls_on_its_asynchronous_service_host(tmp_path: Path) -> None:
    """The documented shape: the poll URL on another host (here "localhost" for the
    endpoint's 127.0.0.1), allowed by name whatever its port."""
    with OctoAIServer() as server:
        server.token = TOKEN
        server.poll_host = "localhost"
        backend = make_backend(tmp_path, "octoai", server.url, allowed_hosts=["localhost"])
        result = done(backend).result
        backend.close()
        polled = [path for method, path, _ in server.requests if method == "GET"]
    assert any(path.startswith("/v1/requests/") for path in polled)
    assert result.language == "en"  # from the result's "response"


def test_octoai_language_comes_from_the_request_when_the_result_has_none(tmp_path: Path) -> None:
    with OctoAIServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "octoai", server.url)
        bare = {"transcription": " Hallo.", "response": {"segments": []}}
        server.faults["result"].append(Fault(200, json.dumps(bare).encode()))
        assert done(backend, language="de").result.language == "de"
        backend.close()


def test_the_documented_octoai_service_works_out_of_the_box(tmp_path: Path) -> None:
    backend = make_backend(
        tmp_path, "octoai", "x", endpoint="https://whisper-demo-kk0powt97tmb.octoai.run/predict"
    )
    documented = {"response_id": "a1", "poll_url": "https://async.octoai.run/v1/requests/a1"}
    assert backend.future_from(documented, 0.0).poll_url == documented["poll_url"]  # type: ignore[attr-defined]
    for stranger in (
        "https://async.octoai.run.evil.example/v1/requests/a1",
        "https://evil.example/octoai.run",
    ):
        with pytest.raises(Permanent, match="not its own host; add its host to"):
            backend.future_from({"response_id": "a1", "poll_url": stranger}, 0.0)  # type: ignore[attr-defined]
    clear = {"response_id": "a1", "poll_url": "http://async.octoai.run/v1/requests/a1"}
    with pytest.raises(Permanent, match="in the clear while the endpoint uses https"):
        backend.future_from(clear, 0.0)  # type: ignore[attr-defined]
    backend.close()


def test_allowed_hosts_compare_names_and_ports_only_when_given() -> None:
    policy = HostPolicy.for_endpoint(
        "http://127.0.0.1:8400/predict", ["localhost", "Results.Example:9000"]
    )
    assert policy.refusal("http://127.0.0.1:8400/x") is None
    assert policy.refusal("http://localhost:8400/x") is None
    assert policy.refusal("http://localhost:1234/x") is None
    assert policy.refusal("http://results.example:9000/x") is None
    assert policy.refusal("http://results.example:9001/x") is not None
    assert policy.refusal("http://127.0.0.1:8401/x") is not None
    assert policy.refusal("ftp://localhost/x") is not None
    secure = HostPolicy.for_endpoint("https://api.example/v1", ["files.example"])
    assert secure.refusal("https://files.example/r") is None
    assert "in the clear" in (secure.refusal("http://files.example/r") or "")
    assert "in the clear" in (secure.refusal("http://api.example/v1/x") or "")


# --- the README's sections, as written ------------------------------------------------------


def readme_example(backend: str) -> dict[str, Any]:
    """The ``[backends.<backend>]`` table of the TOML example in the README's section."""
    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split(f"### `{backend}`:", 1)[1].split("\n### ", 1)[0]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    table: dict[str, Any] = tomllib.loads(block)["backends"][backend]
    return table


def test_the_readmes_runpod_example_runs_on_the_worker(tmp_path: Path) -> None:
    example = readme_example("runpod")
    assert example["model"] in RUNPOD_MODELS
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url, model=example["model"])
        assert done(backend).result.text
        backend.close()
    assert server.submissions[0].fields["model"] == example["model"]


def test_the_readmes_octoai_example_follows_the_documented_poll_url(tmp_path: Path) -> None:
    example = readme_example("octoai")
    backend = make_backend(tmp_path, "octoai", "x", **example)
    documented = {"response_id": "a1", "poll_url": "https://async.octoai.run/v1/requests/a1"}
    future = backend.future_from(documented, 0.0)  # type: ignore[attr-defined]
    assert future.poll_url == documented["poll_url"]
    backend.close()


def test_a_job_the_runpod_test_api_forgot_is_gone(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        forgot = {"id": "x", "status": "FAILED", "error": "Job ID not found"}
        server.faults["poll"].append(Fault(200, json.dumps(forgot).encode()))
        outcome = settle(backend, backend.submit(request()))
        backend.close()
    assert isinstance(outcome, Gone)


def test_a_translation_of_silence_is_an_empty_transcript(tmp_path: Path) -> None:
    with RunPodServer() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "runpod", server.url)
        silent = {
            "id": "x",
            "status": "COMPLETED",
            "output": {"segments": [], "detected_language": "en", "translation": ""},
        }
        server.faults["poll"].append(Fault(200, json.dumps(silent).encode()))
        result = done(backend, task="translate").result
        backend.close()
    assert result.segments == [] and result.text == ""
