"""The voices folder: one sub-folder per person, holding recordings of that voice.

``voices/Alice/*.wav`` enrolls Alice: each recording (a *sample*) becomes
two CAM++ voice vectors of its speech, as recorded and on a telephone line
(speakers/enrolment.py says why); a person is matched by their best vector,
so a voice recorded on a phone and at a desk can both be enrolled. Vectors
are cached in the folder (``.dropscribe-voices.json``) with the naming
encoder's version (its weights' SHA-256 and graph recipe) and the sample
recipe, and each file's size and modification time; a sample is embedded
again when it changes or the encoder does (Resemblyzer's 256-number vectors
of an older cache are never mixed with CAM++'s 192), and the folder is
read on every diarization, so a new person or sample counts from the next
recording on, without a restart. A cache that cannot be written (a read-only
folder) only costs the embedding each time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dropscribe.speakers.campgraph import EMBEDDING_SIZE as VECTOR_SIZE
from dropscribe.speakers.vectors import Floats

CACHE_NAME = ".dropscribe-voices.json"
#: Changes when the features, the windows or the averaging of a sample change.
SAMPLE_RECIPE = "campplus-of-speech-in-10s-chunks+4khz-phone/4"
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac", ".webm", ".mp4", ".wma", ".aiff"}
)
#: A sample without speech: no vectors.
NO_VECTORS = np.zeros((0, VECTOR_SIZE), np.float32)


@dataclass(frozen=True)
class Sample:
    """One recording of a person: its speech seconds and voice vectors, one row for each
    way it is heard (no rows: no speech)."""

    path: Path
    seconds: float
    vectors: Floats


@dataclass(frozen=True)
class Person:
    name: str
    samples: list[Sample]

    @property
    def vectors(self) -> Floats:
        usable = [sample.vectors for sample in self.samples if len(sample.vectors)]
        return np.concatenate(usable) if usable else NO_VECTORS

    @property
    def seconds(self) -> float:
        return sum(sample.seconds for sample in self.samples)


def people_files(folder: Path) -> dict[str, list[Path]]:
    """Return each person's recordings (sorted), by sub-folder name; hidden names are skipped."""
    people: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        people[entry.name] = sorted(
            path
            for path in entry.rglob("*")
            if path.suffix.lower() in AUDIO_SUFFIXES
            and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(entry).parts)
        )
    return people


def cache_version(encoder_version: str) -> str:
    """Return what identifies the vectors a sample gets: the naming encoder's version (its
    weights' SHA-256 and graph recipe, speakers/campplus.py) and the sample's recipe."""
    return f"{encoder_version}/{SAMPLE_RECIPE}"


class VoiceCache:
    """The folder's cached sample vectors, valid for one encoder version."""

    def __init__(self, folder: Path, version: str) -> None:
        self.path = folder / CACHE_NAME
        self.version = version
        self.entries: dict[str, dict[str, Any]] = {}
        self.changed = False
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("encoder") == version:
            self.entries = dict(data.get("samples") or {})

    def get(self, key: str, stat: os.stat_result) -> Sample | None:
        entry = self.entries.get(key)
        if not entry or (entry.get("size"), entry.get("mtime_ns")) != (
            stat.st_size,
            stat.st_mtime_ns,
        ):
            return None
        rows = entry.get("vectors") or []
        try:
            array = np.array(rows, dtype=np.float32).reshape(len(rows), VECTOR_SIZE)
            return Sample(Path(key), float(entry.get("seconds", 0.0)), array)
        except (TypeError, ValueError):  # a damaged entry is embedded again, not fatal forever
            return None

    def put(self, key: str, stat: os.stat_result, sample: Sample) -> None:
        vectors = [[round(float(x), 6) for x in row] for row in sample.vectors]
        self.entries[key] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "seconds": round(sample.seconds, 2),
            "vectors": vectors,
        }
        self.changed = True

    def keep_only(self, keys: set[str]) -> None:
        if set(self.entries) - keys:
            self.entries = {key: value for key, value in self.entries.items() if key in keys}
            self.changed = True

    def save(self) -> None:
        """Write the cache atomically; a folder we may not write to keeps none."""
        if not self.changed:
            return
        temporary = self.path.with_name(f"{CACHE_NAME}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps({"encoder": self.version, "samples": self.entries}))
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)
