"""Sidecar names, decided once for the daemon and for ``dropscribe transcribe``.

A file name is whatever bytes the kernel accepted. Python hands names that
are not UTF-8 over as strings with surrogates (``os.fsdecode``); those cannot
go into SQLite text, JSON or a log line as they are. The rules:

- The store keeps the name losslessly (see ``jobs.store.schema``): the file is
  always found again, in the inbox, the archive and ``failed/``.
- Logs and the transcript's ``source.path`` show it with every byte that is
  not UTF-8 written as ``\\xNN`` (:func:`display_path`).
- Sidecar names are made of valid UTF-8 with no control character: such
  bytes and characters become ``%NN`` (:func:`sidecar_component`), and every
  part is shortened, with a hash of the whole, to fit 255 bytes with the
  longest suffix.
- ``a.wav`` and ``a.mp3`` in one folder: the first recorded keeps ``a.*``,
  any later one gets its extension in the name, ``a.mp3.json`` (and, if even
  that is taken, a hash of its path). Which came first is decided once, by
  the store, and kept with the job: the names never change afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

NAME_MAX = 255
#: The longest sidecar suffix; a name plus it must fit in the 255 bytes of a file name.
LONGEST_SUFFIX = ".error.json"
_HASH_LENGTH = 8


def display_path(path: str) -> str:
    """Return ``path`` as valid text: bytes that are not UTF-8 written as ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def sidecar_component(name: str) -> str:
    """Return one path component with undecodable bytes and control characters as ``%NN``."""
    parts = []
    for character in name:
        code = ord(character)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            parts.append(f"%{code - 0xDC00:02X}")
        elif code < 0x20 or code == 0x7F:
            parts.append(f"%{code:02X}")
        elif 0xD800 <= code <= 0xDFFF:  # any other lone surrogate: not encodable at all
            parts.append("%3F")
        else:
            parts.append(character)
    return "".join(parts)


def fit_name(name: str, room: int = NAME_MAX - len(LONGEST_SUFFIX)) -> str:
    """Return ``name``, or a shortened one ending in a hash of the whole, within ``room`` bytes."""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= room:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:_HASH_LENGTH]
    head = encoded[: room - _HASH_LENGTH - 1].decode("utf-8", "ignore")  # never cut a character
    return f"{head}~{digest}"


def _split(relative_path: str) -> tuple[str, str]:
    """Return the sidecar folder prefix (``"calls/"`` or ``""``) and the escaped file name."""
    *folders, name = relative_path.split("/")
    prefix = "".join(f"{fit_name(sidecar_component(f), NAME_MAX)}/" for f in folders)
    return prefix, sidecar_component(name)


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def sidecar_candidates(relative_path: str) -> list[str]:
    """Return the sidecar names ``relative_path`` may get, the preferred one first.

    ``calls/a.wav`` -> ``["calls/a", "calls/a.wav", "calls/a.wav~1a2b3c4d"]``.
    """
    prefix, name = _split(relative_path)
    digest = hashlib.sha256(relative_path.encode("utf-8", "surrogateescape")).hexdigest()
    room = NAME_MAX - len(LONGEST_SUFFIX) - _HASH_LENGTH - 1
    return [
        prefix + fit_name(_stem(name)),
        prefix + fit_name(name),
        f"{prefix}{fit_name(name, room)}~{digest[:_HASH_LENGTH]}",
    ]


def sidecar_stem(relative_path: str, taken: Callable[[str], bool] = lambda _name: False) -> str:
    """Return the sidecar name (without suffix) for ``relative_path``.

    ``taken(name)`` says whether another source already writes sidecars under
    ``name``; the first candidate not taken is returned, so two sources never
    share one.
    """
    candidates = sidecar_candidates(relative_path)
    for candidate in candidates:
        if not taken(candidate):
            return candidate
    return candidates[-1]  # the path's own hash: only this path can have it
