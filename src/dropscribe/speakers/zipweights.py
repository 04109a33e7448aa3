"""A PyTorch state dict in the zip format (``torch.save`` since 1.6), read without PyTorch.

The file is a zip archive: ``<name>/data.pkl`` is a pickle of an
``OrderedDict`` of tensors, each tensor's bytes are ``<name>/data/<key>``.
The pickle is read by an unpickler that builds only the ``OrderedDict``,
plain tensors and their storages: any other class in it is refused, as
speakers/weights.py refuses one in the Resemblyzer checkpoint, so a tampered
file cannot run code. Only float tensors are kept (the batch norms'
``num_batches_tracked`` counters are training state).
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dropscribe.speakers.weights import Weights, WeightsError

#: Storage classes a plain state dict holds, and the array type of their bytes.
_STORAGES: dict[str, type[np.generic]] = {
    "FloatStorage": np.float32,
    "LongStorage": np.int64,
}


@dataclass(frozen=True)
class _StorageType:
    """Stands for ``torch.FloatStorage`` or ``torch.LongStorage``."""

    name: str


def _rebuild_tensor(
    storage: npt.NDArray[Any],
    offset: int,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    *_: Any,
) -> npt.NDArray[Any]:
    reach = sum((size - 1) * step for size, step in zip(shape, stride, strict=True))
    if shape and min(shape) > 0 and len(storage) < offset + reach + 1:
        raise ValueError("a tensor reaches past its storage")
    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=tuple(shape),
        strides=tuple(step * storage.itemsize for step in stride),
        writeable=False,
    )
    return np.ascontiguousarray(view)


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, archive: zipfile.ZipFile, prefix: str, hint: str) -> None:
        super().__init__(io.BytesIO(archive.read(f"{prefix}/data.pkl")))
        self._archive, self._prefix, self._hint = archive, prefix, hint

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise WeightsError(
            f"the weights file names {module}.{name}, which a plain tensor file never "
            f"does; reinstall it with `{self._hint}`"
        )

    def persistent_load(self, pid: Any) -> npt.NDArray[Any]:
        # ('storage', storage type, key, location, number of elements)
        if not (
            isinstance(pid, tuple) and pid[0] == "storage" and isinstance(pid[1], _StorageType)
        ):
            raise WeightsError(f"unexpected persistent object {pid!r:.80} in the weights file")
        data = self._archive.read(f"{self._prefix}/data/{pid[2]}")
        array = np.frombuffer(data, dtype=np.dtype(_STORAGES[pid[1].name]).newbyteorder("<"))
        if len(array) != int(pid[4]):
            raise ValueError(f"storage {pid[2]} is truncated")
        return array


def load_state_dict(path: Path, hint: str) -> Weights:
    """Return the float tensors of the zip-format state dict at ``path``, by name.

    Raises:
        WeightsError: the file is missing, damaged, or holds anything but tensors
            (``hint``, the command that reinstalls it, ends the sentence).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            (pickled,) = [name for name in archive.namelist() if name.endswith("/data.pkl")]
            state = _StateDictUnpickler(archive, pickled.rsplit("/", 1)[0], hint).load()
    except (
        OSError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        KeyError,
    ) as exc:
        raise WeightsError(
            f"cannot read the speaker model's weights at {path} ({exc}); "
            f"reinstall them with `{hint}`"
        ) from exc
    if not isinstance(state, dict):
        raise WeightsError(f"{path} is not a state dict; reinstall it with `{hint}`")
    return {
        str(name): array.astype(np.float32, copy=False)
        for name, array in state.items()
        if isinstance(array, np.ndarray) and array.dtype == np.float32
    }
