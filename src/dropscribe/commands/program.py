"""The command that runs dropscribe, as it was run this time, for the hints it prints.

``make run`` does not put ``dropscribe`` on the PATH, so a hint naming the bare
command fails when pasted. A hint names the program as it was invoked: the
bare name when that is what the PATH finds, ``<python> -m dropscribe`` when run
as a module, else the path typed (made absolute where the hint is read later,
from anywhere: the error sidecar the daemon writes).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

NAME = "dropscribe"


def program_name(argv0: str | None = None, *, absolute: bool = False) -> str:
    """Return how to run dropscribe again, as ``argv0`` (default: ``sys.argv[0]``) ran it."""
    given = sys.argv[0] if argv0 is None else argv0
    base = os.path.basename(given)
    if base == "__main__.py" and os.path.basename(os.path.dirname(given)) == NAME:
        # The interpreter's own path: a virtual environment's python is a link to the
        # system's, which does not have dropscribe installed.
        return f"{shlex.quote(sys.executable)} -m {NAME}"
    if not base.startswith(NAME):
        return NAME  # called from elsewhere (a test, an embedding program)
    if os.sep not in given:
        return given  # found on the PATH
    found = shutil.which(base)
    if found and os.path.realpath(found) == os.path.realpath(given):
        return base
    return shlex.quote(os.path.abspath(given) if absolute else given)
