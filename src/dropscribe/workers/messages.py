"""The one message format of every worker process: a frozen dataclass as a JSON object.

A message is a dataclass; on the wire it is one JSON object, its fields and a
``"type"`` naming its class::

    {"type": "Progress", "job_id": 7, "seconds": 12.5}

:func:`decode` takes such an object back only as one of the ``kinds`` the
reader expects, with every field of the type its class declares (nested
dataclasses and typed dicts, lists, tuples, unions, literals), and nothing
more. Anything else raises :class:`MessageError`: a reader ends the worker
that sent it and carries on. JSON and not pickle, because unpickling runs
whatever code the bytes name: a worker taken over by a hostile recording
(worker processes decode untrusted media) must not be able to run code in the
daemon, and a confused one must not be able to crash it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_args, get_origin, get_type_hints, is_typeddict

M = TypeVar("M")
#: Turns a JSON value into the value of one declared type, or raises MessageError.
Convert = Callable[[Any], Any]


class MessageError(ValueError):
    """A worker's message is not JSON, not one of the kinds expected, or of the wrong shape."""


def encode(message: object) -> bytes:
    """Return ``message`` (a dataclass) as one line of JSON, without the newline."""
    if not dataclasses.is_dataclass(message) or isinstance(message, type):
        raise TypeError(f"a message is a dataclass, not {type(message).__name__}")
    fields = {field.name: getattr(message, field.name) for field in dataclasses.fields(message)}
    text = json.dumps(
        {"type": type(message).__name__, **fields}, separators=(",", ":"), default=_fields_of
    )
    return text.encode()


def _fields_of(value: object) -> dict[str, Any]:
    """What json cannot write by itself: a nested dataclass becomes its fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} cannot go into a message")


def decode(data: bytes | str, kinds: Sequence[type[M]]) -> M:
    """Return the message ``data`` holds, which must be one of ``kinds``.

    Raises:
        MessageError: not JSON, not an object with a ``type``, a type not in ``kinds``,
            or a field missing, unknown or of the wrong type.
    """
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MessageError(f"not JSON ({str(exc)[:100]})") from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise MessageError('not a message (a JSON object with a "type" was expected)')
    name = value.pop("type")
    for kind in kinds:
        if kind.__name__ == name:
            hint: Any = kind  # a class: hashable, whatever the cache's signature says
            message: M = _converter(hint)(value)
            return message
    raise MessageError(f"a message of an unexpected type: {name[:60]!r}")


@functools.cache
def _converter(hint: Any) -> Convert:
    """Return the converter for values of type ``hint`` (built once per type)."""
    if hint is Any or hint is object:
        return lambda value: value
    if hint in _SCALARS:
        return _SCALARS[hint]
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _record(hint, _dataclass_shape(hint), hint)
    if is_typeddict(hint):
        return _record(hint, _typeddict_shape(hint), dict)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return _union([_converter(arg) for arg in args])
    if origin is typing.Literal:
        return _literal(args)
    if origin is list:
        return _list(_converter(args[0]))
    if origin is tuple:
        return _tuple(args)
    if origin is dict and args[0] is str:
        return _dict(_converter(args[1]))
    raise TypeError(f"no message field may be of type {hint!r}")


def _dataclass_shape(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """Return the types of ``cls``'s fields, and the names of those without a default."""
    hints = get_type_hints(cls)
    fields = [field for field in dataclasses.fields(cls) if field.init]
    required = frozenset(
        field.name
        for field in fields
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )
    return {field.name: hints[field.name] for field in fields}, required


def _typeddict_shape(cls: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """Return the types of a typed dict's keys, and the keys it must have.

    Read from the annotations as written: Python 3.11 counts a ``NotRequired`` key
    as required when the annotations are strings (``from __future__ import annotations``).
    """
    hints = get_type_hints(cls)
    required = set()
    for key, written in cls.__annotations__.items():
        text = getattr(written, "__forward_arg__", written)
        if isinstance(text, str):
            optional = text.startswith(("NotRequired[", "typing.NotRequired["))
        else:
            optional = get_origin(written) is typing.NotRequired
        if not optional and cls.__total__:
            required.add(key)
    return hints, frozenset(required)


def _record(
    name: object, shape: tuple[dict[str, Any], frozenset[str]], build: Callable[..., Any]
) -> Convert:
    hints, required = shape
    converters = {key: _converter(hint) for key, hint in hints.items()}
    label = getattr(name, "__name__", name)

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            raise MessageError(f"{label}: an object was expected")
        if not required <= value.keys() or not value.keys() <= converters.keys():
            missing = sorted(required - value.keys())
            unknown = sorted(str(key)[:40] for key in value.keys() - converters.keys())
            raise MessageError(f"{label}: missing {missing}, unknown {unknown}")
        converted = {}
        for key, item in value.items():
            try:
                converted[key] = converters[key](item)
            except MessageError as exc:
                raise MessageError(f"{label}.{key}: {exc}") from None
        try:
            return build(**converted)
        except (TypeError, ValueError) as exc:  # a class that checks its own fields
            raise MessageError(f"{label}: {exc}") from None

    return convert


def _scalar(kind: type, what: str) -> Convert:
    def convert(value: Any) -> Any:
        # bool is an int to Python, not to a message.
        if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
            return value
        raise MessageError(f"{what} was expected, not {type(value).__name__}")

    return convert


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise MessageError(f"a number was expected, not {type(value).__name__}")


def _none(value: Any) -> None:
    if value is not None:
        raise MessageError(f"null was expected, not {type(value).__name__}")


_SCALARS: dict[Any, Convert] = {
    str: _scalar(str, "a string"),
    int: _scalar(int, "a whole number"),
    bool: _scalar(bool, "true or false"),
    float: _number,
    type(None): _none,
}


def _union(options: list[Convert]) -> Convert:
    def convert(value: Any) -> Any:
        reasons = []
        for option in options:
            try:
                return option(value)
            except MessageError as exc:
                reasons.append(str(exc))
        raise MessageError(" or ".join(reasons))

    return convert


def _literal(allowed: tuple[Any, ...]) -> Convert:
    def convert(value: Any) -> Any:
        if any(value == choice and type(value) is type(choice) for choice in allowed):
            return value
        raise MessageError(f"one of {list(allowed)} was expected")

    return convert


def _list(item: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if not isinstance(value, list):
            raise MessageError(f"a list was expected, not {type(value).__name__}")
        return _items(value, [item] * len(value))

    return convert


def _tuple(args: tuple[Any, ...]) -> Convert:
    repeated = len(args) == 2 and args[1] is Ellipsis
    items = [_converter(arg) for arg in (args[:1] if repeated else args)]

    def convert(value: Any) -> Any:
        if not isinstance(value, list) or not (repeated or len(value) == len(items)):
            raise MessageError(f"a list of {'any' if repeated else len(items)} was expected")
        return tuple(_items(value, items * len(value) if repeated else items))

    return convert


def _items(values: list[Any], converters: list[Convert]) -> list[Any]:
    try:
        return [convert(value) for convert, value in zip(converters, values, strict=True)]
    except MessageError:
        for index, (convert, value) in enumerate(zip(converters, values, strict=True)):
            try:
                convert(value)
            except MessageError as exc:
                raise MessageError(f"[{index}]: {exc}") from None
        raise


def _dict(item: Convert) -> Convert:
    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            raise MessageError(f"an object was expected, not {type(value).__name__}")
        converted = {}
        for key, entry in value.items():
            try:
                converted[key] = item(entry)
            except MessageError as exc:
                raise MessageError(f"[{str(key)[:40]!r}]: {exc}") from None
        return converted

    return convert


@dataclasses.dataclass(frozen=True)
class Ready:
    """A worker's first word: it runs, its program is imported and its limits are set
    (the engine's worker says more, in a ready message of its own)."""

    pid: int
