"""What happens to an original once its transcript is written: decided here, once.

``paths.originals`` says ``archive``, ``keep`` or ``delete``; ``archive = ""``
together with ``archive`` (the default) keeps the original in place. The config
check, the directories made at start, intake's duplicate rule and the finisher
all ask these functions instead of reading the two keys themselves; the settings
hold the keys as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the paths section imports this module
    from dropscribe.config.sections import PathsSettings

Fate = Literal["archive", "keep", "delete"]


def originals_fate(paths: PathsSettings) -> Fate:
    """Return what really happens to originals under these settings."""
    if paths.originals == "archive" and paths.archive is None:
        return "keep"
    return paths.originals


def archive_folder(paths: PathsSettings) -> Path | None:
    """Return the folder originals are moved to, or None when they are not archived."""
    return paths.archive if originals_fate(paths) == "archive" else None


def originals_contradiction(paths: PathsSettings) -> str | None:
    """Return why the two keys contradict each other, or None.

    ``originals = "archive"`` written out beside ``archive = ""`` asks for an
    archive and for none: which was meant cannot be told, so it is refused
    rather than read as ``keep`` as the default ``originals`` is.
    """
    written = "originals" in paths.model_fields_set
    if written and paths.originals == "archive" and paths.archive is None:
        return (
            'paths.archive is "" but paths.originals = "archive": name an archive '
            'folder, or set originals = "keep"'
        )
    return None
