"""Real mounts for tests that make the machine fail: a tmpfs, a bind mount, a remount.

Every mount a test makes is taken away at its end, whatever happened (``umount -l``,
which never fails for files left open). Without root, or where the machine lets no
test mount, the ``mounts`` fixture skips the test and says why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class Mounts:
    """The mounts a test makes; every one is taken away at the end, whatever happened."""

    def __init__(self) -> None:
        self.points: list[Path] = []

    def run(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"

    def tmpfs(self, where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        self.run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
        self.points.append(where)
        return where

    def bind(self, source: Path, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.run("mount", "--bind", str(source), str(where))
        self.points.append(where)

    def remount(self, where: Path, options: str) -> None:
        self.run("mount", "-o", f"remount,{options}", str(where))

    def take_away(self, where: Path) -> None:
        """Unmount ``where`` as a share goes away: at once, even with files open on it."""
        self.run("umount", "-l", str(where))
        self.points.remove(where)

    def cleanup(self) -> None:
        for where in reversed(self.points):
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=60)
        self.points.clear()


def mounts_for(tmp_path: Path) -> Iterator[Mounts]:
    """The body of a ``mounts`` fixture: skips without root, unmounts everything after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs or a bind mount needs root (CI runs as root)")
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
        capture_output=True,
        text=True,
    )
    if tried.returncode != 0:
        pytest.skip(f"this machine lets no test mount a tmpfs: {tried.stderr.strip()}")
    subprocess.run(["umount", "-l", str(probe)], capture_output=True)
    made = Mounts()
    try:
        yield made
    finally:
        made.cleanup()
