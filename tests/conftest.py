from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from hypothesis import settings

# The suite is deterministic: property tests run the same examples every time (a
# random failure in CI would be noise). `--hypothesis-profile=explore` searches anew.
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("default")


@pytest.fixture(autouse=True)
def _plain_logging() -> None:
    """Tests that capture logs see plain events; nothing leaks between tests."""
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory that will hold the config, inbox, outbox and state of one test."""
    return tmp_path
