"""What happens to an original once its transcript is written: decided here, once.

``paths.originals`` says ``archive``, ``keep`` or ``delete``; ``archive = ""``
together with ``archive`` keeps the original in place. The config check, the
directories made at start, intake's duplicate rule and the finisher all ask
these functions instead of reading the two keys themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # config imports this module: no import of config at run time
    from dropscribe.config import PathsSettings

Fate = Literal["archive", "keep", "delete"]


def originals_fate(paths: PathsSettings) -> Fate:
    """Return what really happens to originals under these settings."""
    if paths.originals == "archive" and paths.archive is None:
        return "keep"
    return paths.originals


def archive_folder(paths: PathsSettings) -> Path | None:
    """Return the folder originals are moved to, or None when they are not archived."""
    return paths.archive if originals_fate(paths) == "archive" else None
