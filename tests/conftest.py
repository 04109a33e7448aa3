from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import settings

from dropscribe.inbox import move_pairing

# The suite is deterministic: property tests run the same examples every time (a
# random failure in CI would be noise). `--hypothesis-profile=explore` searches anew.
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("default")


@pytest.fixture(autouse=True)
def _plain_logging() -> Iterator[None]:
    """Tests that capture logs see plain events; nothing leaks between tests (neither the
    watchdog patch a watcher applies when it starts)."""
    structlog.reset_defaults()
    yield
    move_pairing.undo()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory that will hold the config, inbox, outbox and state of one test."""
    return tmp_path
