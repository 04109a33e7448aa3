"""The backend sections: the local engine, what remote backends share, and each remote one."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from dropscribe.config.defaults import BUNDLED_MODEL
from dropscribe.config.sections import BackendName, Section

#: What an engine that takes the words as one initial prompt does with them.
FIRST_WINDOW = (
    "as the initial prompt of each upload and chunk (it steers their first 30 s; "
    "words written right there carry on)"
)


class LocalSettings(Section):
    #: What the engine does with ``vocabulary`` and ``prompt`` (``check`` says it).
    words_use: ClassVar[str | None] = (
        "as the initial prompt of each part and batch a recording is decoded in (a file "
        "decoded in one piece: its first 30 s window; words written right there carry on)"
    )

    model: str = Field(BUNDLED_MODEL, description="A model name, or a CTranslate2 model directory.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = Field("default", description='"default": int8 on CPU, float16 on GPU.')
    cpu_threads: int = Field(0, ge=0, description="Threads per decode; 0: automatic.")
    parallel_decodes: int = Field(
        0, ge=0, description="Decodes at once in a worker, each with a model copy; 0: automatic."
    )
    beam_size: int = Field(5, ge=1)
    vad_filter: bool = False
    word_timestamps: bool = True
    initial_prompt: str | None = None
    vocabulary_as: Literal["prompt", "hotwords"] = Field(
        "prompt",
        description='How the engine is given the terms: "prompt" (after the prompt, as '
        'initial_prompt) or "hotwords" (faster-whisper\'s, in every window).',
    )
    respell_terms: bool = Field(
        True,
        description="After decoding, write a near miss of a term (a word or two or three "
        'that read and sound almost like it: "next cloud") as the term.',
    )
    workers: int = Field(1, ge=1, description="Worker processes, each with its own model.")
    timeout_seconds: float = Field(
        0, ge=0, description="Longest time for one file; 0 means 3x its duration + 60 s."
    )
    max_memory_mb: int = Field(
        0,
        ge=0,
        description="Worker resident memory limit; 0: half the machine's memory (or its "
        "cgroup limit), shared among the workers, at least 1024 MB.",
    )
    batched: Literal["auto", "on", "off", "parts"] = Field(
        "auto", description="auto (measured), on (batched), off (sequential), parts (at pauses)."
    )
    batch_size: int = Field(8, ge=1)
    fallback: BackendName | None = None


#: What a remote engine is sent: a compact encoding of the audio (``original``: the file).
UploadFormat = Literal["opus", "flac", "mp3"]


class RemoteSettings(Section):
    """What every remote backend shares.

    The class variables are facts about the backend, not settings: the key
    holding its secret, the keys it cannot work without, whether the hosted
    service wants the secret, and the key holding its address (asked by
    ``check`` when the backend has no health URL).
    """

    secret_key: ClassVar[str | None] = None
    required_keys: ClassVar[tuple[str, ...]] = ()
    secret_needed_when_hosted: ClassVar[bool] = False
    address_key: ClassVar[str | None] = None
    #: What the engine does with ``vocabulary`` and ``prompt``; None: its protocol has
    #: no field for them (``check`` says so).
    words_use: ClassVar[str | None] = FIRST_WINDOW

    concurrency: int = Field(4, ge=1, description="Jobs in flight at once on this backend.")
    timeout_seconds: float = Field(60.0, gt=0, description="Per HTTP request.")
    deadline_seconds: float = Field(3600.0, gt=0, description="Longest life of one future.")
    poll_initial_seconds: float = Field(0.5, gt=0)
    poll_max_seconds: float = Field(15.0, gt=0)
    max_upload_bytes: int = Field(100 * 1024**2, gt=0, description="Larger files use fallback.")
    max_response_bytes: int = Field(50 * 1024**2, gt=0)
    fallback: BackendName | None = None
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description='Hosts besides the endpoint\'s own for poll/result URLs: "name", "name:port".',
    )
    health_url: str | None = Field(
        None, description='Asked before submitting: unset, the protocol\'s own; "": none.'
    )
    verify_tls: bool = True
    upload_format: Literal["auto", "original", "opus", "flac", "mp3"] = Field(
        "auto", description="What is uploaded: auto picks the smallest the protocol reads."
    )
    max_chunk_seconds: float = Field(
        600.0, ge=10, description="Longer recordings go as chunks cut at pauses."
    )
    compact_above_bytes: int = Field(
        1024**2, ge=0, description="Smaller files are uploaded as they are, not compacted."
    )
    prepare_timeout_seconds: float = Field(
        900.0, gt=0, description="Longest time to decode and compact one recording."
    )
    prepare_memory_mb: int = Field(
        2048, ge=0, description="Address-space limit of the compacting worker; 0: none."
    )
    recover_speech: bool = Field(
        True,
        description="Speech the words leave uncovered (1 s or more) is sent once more as a "
        "chunk of its own and its words spliced in; what still has none is named in warnings.",
    )


class OctoAISettings(RemoteSettings):
    secret_key = "token"  # noqa: S105 (the key\'s name, not a secret)
    words_use = None  # the protocol's request is {"audio", "language", "task"}
    address_key = "endpoint"

    endpoint: str = "http://127.0.0.1:8080/predict"
    token: SecretStr | None = None
    retention_seconds: float = 24 * 3600
    max_upload_bytes: int = 10 * 1024**2


class RunPodSettings(RemoteSettings):
    secret_key = "api_key"  # noqa: S105 (the key\'s name, not a secret)
    required_keys = ("endpoint_id",)
    secret_needed_when_hosted = True

    base_url: str = "https://api.runpod.ai/v2"
    endpoint_id: str = ""
    api_key: SecretStr | None = None
    model: str = "base"
    enable_vad: bool = False
    retention_seconds: float = 30 * 60
    max_upload_bytes: int = 10 * 1024**2


class ReplicateSettings(RemoteSettings):
    secret_key = "token"  # noqa: S105 (the key\'s name, not a secret)
    required_keys = ("version",)
    secret_needed_when_hosted = True
    address_key = "base_url"

    base_url: str = "https://api.replicate.com/v1"
    version: str = ""
    token: SecretStr | None = None
    retention_seconds: float = 3600


class OpenAISettings(RemoteSettings):
    secret_key = "api_key"  # noqa: S105 (the key\'s name, not a secret)

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "whisper-1"
    api_key: SecretStr | None = None
    max_upload_bytes: int = 25 * 1024**2
    concurrency: int = 2


class BackendsSettings(Section):
    local: LocalSettings = Field(default_factory=LocalSettings)
    octoai: OctoAISettings = Field(default_factory=OctoAISettings)
    runpod: RunPodSettings = Field(default_factory=RunPodSettings)
    replicate: ReplicateSettings = Field(default_factory=ReplicateSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)


def remote_sections() -> dict[str, type[RemoteSettings]]:
    """Return backend name -> its section's class, for the remote backends."""
    found = {}
    for name, field in BackendsSettings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, RemoteSettings):
            found[name] = field.annotation
    return found


def secret_keys() -> dict[str, str]:
    """Return backend name -> the settings key of its secret, for backends that have one."""
    return {
        name: section.secret_key
        for name, section in remote_sections().items()
        if section.secret_key is not None
    }
