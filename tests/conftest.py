from __future__ import annotations

from pathlib import Path

import pytest
import structlog


@pytest.fixture(autouse=True)
def _plain_logging() -> None:
    """Tests that capture logs see plain events; nothing leaks between tests."""
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory that will hold the config, inbox, outbox and state of one test."""
    return tmp_path
