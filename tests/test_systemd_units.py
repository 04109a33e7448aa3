"""The units pass `systemd-analyze verify` and rate "OK" (exposure 2.0 or less)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).parent.parent / "systemd"
INSTALLED_BINARY = "/opt/dropscribe/bin/dropscribe"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (make test installs it)",
)


def unit_copy(tmp_path: Path, template: str, name: str) -> Path:
    """Copy a unit under ``name``; ExecStart points at this checkout's dropscribe, because
    verify checks that the program exists and /opt/dropscribe is not installed here."""
    text = (UNITS / template).read_text()
    assert INSTALLED_BINARY in text
    here = str(Path(sys.executable).parent / "dropscribe")
    target = tmp_path / name
    target.write_text(text.replace(INSTALLED_BINARY, here))
    return target


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("dropscribe.service", "dropscribe.service"),
        ("dropscribe@.service", "dropscribe@sales.service"),
    ],
)
def test_units_verify_cleanly_and_rate_ok(tmp_path: Path, template: str, name: str) -> None:
    unit = unit_copy(tmp_path, template, name)
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert security.returncode == 0, security.stdout[-2000:]
    overall = security.stdout.strip().splitlines()[-1]
    assert "OK" in overall
    assert float(overall.split("level for")[1].split(":")[1].split()[0]) <= 2.0


def test_every_setting_of_the_service_section_says_why() -> None:
    """Each directive line is preceded by a comment or belongs to a commented group."""
    lines = (UNITS / "dropscribe.service").read_text().splitlines()
    start = lines.index("[Service]")
    end = lines.index("[Install]")
    uncommented = []
    previous = ""
    for line in lines[start + 1 : end]:
        if line and not line.startswith("#") and "=" in line and previous == "":
            uncommented.append(line)
        previous = line
    assert uncommented == []
