"""The worker's default memory ceiling, derived from the machine."""

from __future__ import annotations

from pathlib import Path

from dropscribe.backends.local.backend import LocalBackend
from dropscribe.backends.local.memory import MINIMUM_MB, machine_memory_mb, worker_memory_limit_mb
from dropscribe.config import load_settings
from tests.helpers import write_config


def test_a_configured_limit_is_kept() -> None:
    assert worker_memory_limit_mb(700, workers=2, machine_mb=64_000) == 700


def test_by_default_the_workers_share_half_the_machine() -> None:
    assert worker_memory_limit_mb(0, workers=1, machine_mb=16_000) == 8_000
    assert worker_memory_limit_mb(0, workers=4, machine_mb=16_000) == 2_000
    assert worker_memory_limit_mb(0, workers=4, machine_mb=2_000) == MINIMUM_MB


def test_a_cgroup_limit_below_the_ram_is_what_the_machine_gives(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree:  1 kB\n")
    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    assert machine_memory_mb(meminfo, (v2, v1)) == 16_000  # neither file exists
    v2.write_text("max\n")
    assert machine_memory_mb(meminfo, (v2, v1)) == 16_000
    v1.write_text(f"{4 * 2**30}\n")
    assert machine_memory_mb(meminfo, (v2, v1)) == 4096


def test_the_local_engine_enforces_a_ceiling_by_default(tmp_path: Path) -> None:
    backend = LocalBackend(load_settings(write_config(tmp_path)))
    assert backend.memory_limit_mb == worker_memory_limit_mb(0, 1, machine_memory_mb())
    assert 0 < backend.memory_limit_mb < machine_memory_mb()
    backend.close()
