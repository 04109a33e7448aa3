"""``dropscribe voices``: who is enrolled, and enrolling a voice from a labelled transcript."""

from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.config import Settings
from dropscribe.speakers.voices import VoiceCache, cache_version, people_files

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Silence put between the cut segments of an enrolled voice.
JOIN_SECONDS = 0.2


def add_arguments(voices: argparse.ArgumentParser) -> None:
    voices.add_argument(
        "--folder", type=Path, default=None, help="the voices folder (default: [transcribe] voices)"
    )
    actions = voices.add_subparsers(dest="voices_action", metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="enroll NAME from the segments of SPEAKER in a labelled transcript",
        description="Enroll NAME from the segments labelled SPEAKER in TRANSCRIPT.json.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("transcript", type=Path, metavar="TRANSCRIPT.json")
    add.add_argument("speaker", metavar="SPEAKER")
    add.add_argument(
        "--audio", type=Path, default=None, help="the recording (default: found by source.path)"
    )


def voices_command(settings: Settings, args: argparse.Namespace) -> int:
    folder = args.folder or (
        Path(settings.transcribe.voices) if settings.transcribe.voices else None
    )
    if folder is None:
        print(
            "dropscribe: no voices folder: set [transcribe] voices or give --folder",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.voices_action == "add":
        return _add(settings, folder, args)
    if not folder.is_dir():
        print(f"dropscribe: {folder} is not a folder", file=sys.stderr)
        return EXIT_FAILED
    _list(folder)
    return EXIT_OK


def _list(folder: Path) -> None:
    from dropscribe.speakers.campplus import default_naming_weights, naming_version
    from dropscribe.speakers.weights import WeightsError

    try:
        cache = VoiceCache(folder, cache_version(naming_version(default_naming_weights())))
    except (WeightsError, OSError):
        cache = VoiceCache(folder, "")
    people = people_files(folder)
    if not people:
        print(f"{folder}: nobody enrolled (add a sub-folder per person, with recordings)")
    for name, paths in people.items():
        seconds, measured = 0.0, True
        for path in paths:
            sample = cache.get(path.relative_to(folder).as_posix(), path.stat())
            if sample is None:
                measured = False
                seconds += _duration(path)
            else:
                seconds += sample.seconds
        kind = "of speech" if measured else "of audio (speech measured at the next diarization)"
        print(f"{name}: {len(paths)} sample{'s' * (len(paths) != 1)}, {seconds:.1f} s {kind}")


def _duration(path: Path) -> float:
    try:
        import av

        with av.open(str(path)) as container:
            return float(container.duration or 0) / 1e6
    except Exception:  # listing must not fail on one bad file
        return 0.0


def _add(settings: Settings, folder: Path, args: argparse.Namespace) -> int:
    name = str(args.name).strip()
    if not name or name.startswith(".") or "/" in name or "\0" in name:
        print(f"dropscribe: {name!r} cannot be a folder name", file=sys.stderr)
        return EXIT_USAGE
    try:
        document: dict[str, Any] = json.loads(args.transcript.read_text())
    except (OSError, ValueError) as exc:
        print(f"dropscribe: cannot read {args.transcript}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    spans = [
        (float(s["start"]), float(s["end"]))
        for s in document.get("response", {}).get("segments", [])
        if s.get("speaker") == args.speaker
    ]
    if not spans:
        print(f"dropscribe: no segment of {args.transcript} is {args.speaker}", file=sys.stderr)
        return EXIT_FAILED
    audio_path = args.audio or _original(settings, document)
    if audio_path is None:
        print(
            "dropscribe: the recording is not in the archive or inbox; give --audio",
            file=sys.stderr,
        )
        return EXIT_FAILED
    from dropscribe.audio.decode import decode_file
    from dropscribe.errors import BadInput

    try:
        audio = decode_file(audio_path, settings.transcribe.max_duration_seconds).samples
    except BadInput as exc:
        print(f"dropscribe: {audio_path}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out = _write_sample(folder / name, args.transcript.stem, args.speaker, audio, spans)
    seconds = sum(end - start for start, end in spans)
    print(f"{name}: enrolled {seconds:.1f} s from {args.speaker} of {args.transcript} ({out})")
    return EXIT_OK


def _original(settings: Settings, document: dict[str, Any]) -> Path | None:
    relative = str(document.get("source", {}).get("path", ""))
    paths = settings.paths
    for base in (paths.archive, paths.inbox):
        if relative and base is not None and (base / relative).is_file():
            return base / relative
    return None


def _write_sample(
    person: Path, stem: str, speaker: str, audio: Any, spans: list[tuple[float, float]]
) -> Path:
    gap = np.zeros(int(JOIN_SECONDS * SAMPLE_RATE), np.float32)
    pieces = [
        piece
        for start, end in spans
        for piece in (audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], gap)
    ]
    person.mkdir(parents=True, exist_ok=True)
    out = person / f"{stem}-{speaker}.wav"
    with wave.open(str(out), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        samples = np.clip(np.concatenate(pieces), -1, 1)
        handle.writeframes((samples * 32767).astype("<i2").tobytes())
    return out
