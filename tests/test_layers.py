"""The layer order of the README's design notes holds, and the check would see it broken.

The contract is ``[tool.importlinter]`` in pyproject.toml, checked by
import-linter (which reads every import, ``TYPE_CHECKING`` ones included).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_module_imports_only_the_layers_below_it() -> None:
    done = _lint(ROOT / "src", ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_an_import_that_climbs_a_layer_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "src" / "dropscribe", tmp_path / "src" / "dropscribe")
    climbing = tmp_path / "src" / "dropscribe" / "config" / "originals.py"
    climbing.write_text(climbing.read_text() + "\nimport dropscribe.jobs.store  # climbs\n")
    config = tmp_path / "pyproject.toml"
    config.write_text((ROOT / "pyproject.toml").read_text())
    done = _lint(tmp_path / "src", config)
    assert done.returncode != 0
    assert "dropscribe.config.originals -> dropscribe.jobs.store" in done.stdout


def test_every_top_level_folder_and_module_has_its_layer() -> None:
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in contract["contracts"]]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    package = ROOT / "src" / "dropscribe"
    children = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    children |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert children == named
