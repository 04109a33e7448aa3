"""The command line, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from dropscribe.commands.checks_local import cuda_device_count, gpu_problem, languages_for_local
from dropscribe.config import load_settings
from dropscribe.jobs.states import JobState
from dropscribe.jobs.store import Store
from tests.helpers import AUDIO, reference, word_error_rate, write_config

SOURCES = Path(__file__).parent.parent / "src"


def dropscribe(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dropscribe", *args]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_every_command() -> None:
    result = dropscribe("--help")
    assert result.returncode == 0
    for command in ("run", "status", "jobs", "retry", "transcribe", "check"):
        assert command in result.stdout


def test_transcribe_writes_sidecars_for_good_files_and_exits_1_for_bad_ones(
    workdir: Path,
) -> None:
    config = write_config(workdir)
    bad = workdir / "bad.wav"
    bad.write_bytes(b"not audio at all" * 100)
    out = workdir / "out"
    result = dropscribe(
        "transcribe", str(AUDIO / "weather.mp3"), str(bad), "--out", str(out), config=config
    )
    assert result.returncode == 1
    assert "bad.wav: The file could not be decoded as audio" in result.stderr
    document = json.loads((out / "weather.json").read_text())
    assert word_error_rate(reference("weather"), document["transcription"]) < 0.35
    assert sorted(p.name for p in out.iterdir()) == [
        "weather.json",
        "weather.srt",
        "weather.txt",
        "weather.vtt",
    ]
    ok = dropscribe("transcribe", str(AUDIO / "numbers.wav"), "--out", str(out), config=config)
    assert ok.returncode == 0 and "numbers.json" in ok.stdout


def test_check_reports_the_model_it_will_load_and_exits_0(workdir: Path) -> None:
    result = dropscribe("check", config=write_config(workdir))
    assert result.returncode == 0, result.stderr
    assert "backends.local.model: will load the bundled tiny.en at" in result.stdout
    # What the bundled model can do, said plainly, and how to use a bigger one.
    assert "knows English only" in result.stdout and '"small"' in result.stdout
    assert "decode(s) at once of" in result.stdout
    assert "watch: events" in result.stdout


def test_check_names_a_missing_model_directory_and_exits_1(workdir: Path) -> None:
    config = write_config(workdir, {"backends.local": {"model": "./no-such-model"}})
    result = dropscribe("check", config=config)
    assert result.returncode == 1
    assert "backends.local.model" in result.stderr and "not a directory" in result.stderr


def test_status_jobs_and_retry_read_and_change_the_store(workdir: Path) -> None:
    config = write_config(workdir)
    assert dropscribe("status", config=config).returncode == 0  # no store yet: nothing counted
    store = Store(workdir / "state" / "dropscribe.sqlite3")
    for name, state in (("a.wav", JobState.FAILED), ("b.wav", JobState.QUEUED)):
        job = store.add_job(
            path=name,
            sha256="0" * 64,
            size=1,
            mtime=1.0,
            output_name=name[:-4],
            backend="local",
            language="auto",
            task="transcribe",
            settings_key="k",
        )
        store.move(job.id, state, error="boom." if state == JobState.FAILED else None)
    status = json.loads(dropscribe("status", "--json", config=config).stdout)
    assert status["counts"]["failed"] == 1 and status["counts"]["queued"] == 1
    assert status["last_failures"][0]["error"] == "boom."
    text = dropscribe("status", config=config).stdout
    assert "failed: #1 a.wav at " in text and "Z: boom." in text
    listed = json.loads(dropscribe("jobs", "--state", "failed", "--json", config=config).stdout)
    assert [job["path"] for job in listed] == ["a.wav"]
    assert dropscribe("retry", config=config).returncode == 2
    unknown = dropscribe("retry", "2", "99", config=config)
    assert unknown.returncode == 1 and "[2, 99]" in unknown.stderr
    assert dropscribe("retry", "--failed", config=config).returncode == 0
    assert store.get(1).state == JobState.QUEUED and store.get(1).attempts == 0


def test_transcribe_on_a_terminal_shows_progress_through_the_audio(workdir: Path) -> None:
    """tqdm draws only on a terminal: give the command a pseudo-terminal as stderr."""
    import fcntl
    import os
    import struct
    import termios

    controller, terminal = os.openpty()
    # A terminal has a size; tqdm draws nothing on one of 0 columns.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dropscribe",
                "transcribe",
                str(AUDIO / "long_reading.flac"),
                "--out",
                str(workdir / "out"),
                "--config",
                str(write_config(workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the command exited and closed its end
                break
            if not chunk:
                break
            drawn += chunk
        assert process.wait(timeout=120) == 0
    finally:
        os.close(controller)
    frames = drawn.decode(errors="replace").replace("\r", "\n").splitlines()
    bars = [f for f in frames if "long_reading.flac:" in f and "s audio" in f]
    # Several frames as segments arrive, the position counting up to the 31 s of audio.
    assert len(bars) >= 2
    assert any("/31 s audio" in bar for bar in bars)
    assert (workdir / "out" / "long_reading.json").exists()


def in_directory(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command from ``cwd`` with HOME there too, and no DROPSCRIBE_CONFIG."""
    environ = {k: v for k, v in os.environ.items() if k != "DROPSCRIBE_CONFIG"}
    environ.update({"HOME": str(cwd), "PYTHONPATH": str(SOURCES), **env})
    command = [sys.executable, "-m", "dropscribe", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=environ
    )


def test_without_any_config_the_commands_refuse_and_create_nothing(workdir: Path) -> None:
    result = in_directory(workdir, "run")
    assert result.returncode == 2
    assert "no configuration file found" in result.stderr
    assert "./dropscribe.toml" in result.stderr
    assert list(workdir.iterdir()) == []


def test_a_config_in_the_current_directory_is_used_and_named(workdir: Path) -> None:
    write_config(workdir).rename(workdir / "config.toml")
    result = in_directory(workdir, "status")
    assert f"configuration {workdir / 'config.toml'} (from ./config.toml)" in result.stderr
    assert "no job store at" in result.stderr


def test_check_and_run_refuse_an_inbox_whose_parent_is_missing(workdir: Path) -> None:
    write_config(workdir, {"paths": {"inbox": "typo/inbox"}})
    check = in_directory(workdir, "check")
    assert check.returncode == 1
    assert "paths.inbox:" in check.stderr and "neither does its parent" in check.stderr
    run = in_directory(workdir, "run")
    assert run.returncode == 2 and "neither does its parent" in run.stderr
    assert not (workdir / "typo").exists()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_check_names_each_thing_that_would_fail_and_exits_1(workdir: Path) -> None:
    write_config(
        workdir,
        {
            "transcribe": {"backend": "octoai"},
            "backends.octoai": {
                "endpoint": f"http://127.0.0.1:{closed_port()}/predict",
                "fallback": "runpod",
            },
            "backends.local": {"model": "large-v3", "device": "cuda"},
            'folders."calls"': {"backend": "local"},
        },
    )
    hub_cache = workdir / "hub-cache"
    result = in_directory(workdir, "check", HF_HUB_OFFLINE="1", HF_HOME=str(hub_cache))
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("problem: ")]
    assert any("backends.octoai:" in p and "does not answer" in p for p in problems)
    assert any(p.startswith("problem: backends.runpod.endpoint_id: missing") for p in problems)
    assert any(p.startswith("problem: backends.runpod.api_key: missing") for p in problems)
    assert any(
        "backends.local.model: 'large-v3' is not in the Hugging Face cache" in p for p in problems
    )
    gpu_missing = any('backends.local.device: "cuda" but no usable GPU' in p for p in problems)
    assert gpu_missing == (cuda_device_count() == 0)


def test_check_says_auto_means_english_with_an_english_model_and_refuses_french(
    workdir: Path,
) -> None:
    write_config(workdir, {'folders."fr"': {"language": "fr"}})
    result = in_directory(workdir, "check")
    assert result.returncode == 1
    assert "transcribe.language: auto means English: the model tiny.en only knows English" in (
        result.stdout
    )
    assert 'problem: folders."fr".language: "fr" but the model tiny.en only knows English' in (
        result.stderr
    )


def test_a_gpu_is_required_only_when_cuda_is_asked_for() -> None:
    assert gpu_problem("cuda", 0) is not None
    assert gpu_problem("cuda", 1) is None
    assert gpu_problem("auto", 0) is None


def test_check_counts_a_fallback_to_the_local_engine_as_reaching_it(tmp_path: Path) -> None:
    """Files sent to openai go on to local when they are too big for it: an English-only
    local model must refuse their French as it would for files sent to local directly."""
    settings = load_settings(
        write_config(
            tmp_path,
            {
                "transcribe": {"backend": "openai", "language": "fr"},
                "backends.openai": {"fallback": "local"},
            },
        )
    )
    assert settings.backend_names() == ["local", "openai"]
    assert settings.reachable_from("openai") == ["openai", "local"]
    assert languages_for_local(settings) == {"transcribe.language": "fr"}
