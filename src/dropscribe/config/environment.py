"""Settings from ``DROPSCRIBE_<SECTION>__<KEY>`` variables, lists written as people write them.

A list is either comma-separated (``txt,srt``) or a JSON array
(``["txt", "srt"]``); a table is a JSON object. A value that is neither
raises :class:`UnreadableVariable`, which the loader turns into one line
naming the variable.
"""

from __future__ import annotations

import json
from typing import Any, get_args, get_origin

from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource

ENV_PREFIX = "DROPSCRIBE_"


class UnreadableVariable(Exception):
    """A variable's value is neither a list nor JSON; carries the key it was meant for."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(key)
        self.key = key
        self.value = value


def parse_list_variable(value: str) -> list[Any]:
    """Return the list a variable holds: a JSON array, or comma-separated words.

    Raises:
        ValueError: a value starting with ``[`` that is not a JSON array.
    """
    text = value.strip()
    if text.startswith("["):
        parsed = json.loads(text)  # json.JSONDecodeError is a ValueError
        if not isinstance(parsed, list):
            raise ValueError("not a JSON array")
        return parsed
    return [item.strip() for item in text.split(",") if item.strip()]


class EnvironmentSource(EnvSettingsSource):
    """Variables as pydantic-settings reads them, but lists may be comma-separated."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            if field is not None and get_origin(field.annotation) is list:
                return parse_list_variable(value)
            return json.loads(value)
        except ValueError:
            if field is not None and _list_or_text(field.annotation):
                return value  # vocabulary: a JSON array is a list, anything else a file
            raise UnreadableVariable(field_name, value) from None


def _list_or_text(annotation: Any) -> bool:
    """Whether a field takes a list or a plain string (``vocabulary``)."""
    options = get_args(annotation)
    return str in options and any(get_origin(option) is list for option in options)


def variable_for(key: str, value: str, environ: dict[str, str]) -> str:
    """Return the name of the ``DROPSCRIBE_`` variable that holds ``value`` for ``key``."""
    for name, held in environ.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or held != value:
            continue
        if upper == ENV_PREFIX + key.upper() or upper.endswith("__" + key.upper()):
            return name
    return f"{ENV_PREFIX}...__{key.upper()}"
