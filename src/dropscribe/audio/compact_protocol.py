"""The messages between the daemon and the worker that compacts uploads.

Frozen dataclasses, sent as JSON lines (:mod:`dropscribe.workers.messages`).
The daemon sends one :class:`CompactRequest`; the worker (started as
``dropscribe.audio.compact:main``) answers::

    Ready -> PartWritten* -> Compacted | CompactFailed

or one :class:`HearRequest` (a file sent as it is, whose words left a gap: only its
speech is wanted, for the coverage pass), answered ``Ready -> Heard | CompactFailed``.

:class:`PartWritten` comes as each chunk of a long recording is written
(the streamed way), so that the daemon can send it while the rest is being
prepared. No numpy here: the daemon imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from dropscribe.audio.cuts import Part
from dropscribe.workers.messages import Ready

#: The Opus bit rate by how the protocol carries the audio (bench/README.md, issue 26,
#: parts 6 and 7), within 12 MB per hour of speech as sent. As multipart bytes (openai)
#: 24 kbit/s: 10.9 MB an hour of speech without a pause; with tiny.en, pooled over three
#: recordings, 1.3 WER points behind the WAV against 16 kbit/s's 1.7. In base64 (octoai,
#: runpod, replicate: 4/3 the bytes) 24 kbit/s is 14.5 MB; 18 kbit/s, the highest rate
#: with a margin under 12 (10.9 MB), measured worse than 16 (5.3 points pooled against
#: 1.7, one repetition loop included), so base64 stays at 16 kbit/s (about 9.7 MB).
OPUS_BIT_RATES = {"multipart": 24_000, "base64": 16_000}
#: The rate every plan made before the rate was chosen by protocol was written at: a part
#: of such a plan, written again after a restart, is known to fit under its limit at it.
EARLIER_OPUS_BIT_RATE = 16_000
#: Each compact format's bit rate where the request names none (FLAC: lossless, none).
NOMINAL_BIT_RATES: dict[str, int | None] = {
    "opus": OPUS_BIT_RATES["multipart"],
    "mp3": 24_000,
    "flac": None,
}
#: Bytes per second planned for a format at its nominal bit rate before any is written
#: (1.3 x the nominal rate: a variable bit rate runs over it on dense speech; Opus at 24
#: kbit/s comes to 3,030 on speech without a pause); FLAC as plain PCM. Other rates: in
#: proportion (planned_rate). Here, not in compact.py, because the daemon sizes the
#: coverage pass's pieces by it too and must not import the encoder.
PLANNED_RATE = {"opus": 3_900.0, "mp3": 3_900.0, "flac": 32_000.0}


def planned_rate(fmt: str, bit_rate: int | None) -> float:
    """Bytes per second to plan ``fmt`` at ``bit_rate`` (None: the format's own) with."""
    nominal = NOMINAL_BIT_RATES[fmt]
    if bit_rate is None or nominal is None:
        return PLANNED_RATE[fmt]
    return PLANNED_RATE[fmt] * bit_rate / nominal


def upload_bit_rate(fmt: str, base64: bool) -> int | None:
    """The bit rate to encode ``fmt`` at for a protocol that sends base64 or not; None for
    the other formats (MP3 has one fixed rate, FLAC is lossless)."""
    if fmt != "opus":
        return None
    return OPUS_BIT_RATES["base64" if base64 else "multipart"]


@dataclass(frozen=True)
class Place:
    """Where the chunking starts: the recording's start, or where a restart left off
    (the next part's audio start, its seam and its index)."""

    start: float = 0.0
    keep_start: float = 0.0
    index: int = 0


@dataclass(frozen=True)
class CompactRequest:
    """One recording to compact: where it is, where the files go, in what and how big."""

    source: str
    workdir: str
    format: str
    #: Bytes a file may have at most (the request body's room for audio).
    max_bytes: int
    #: Seconds a part may last at most (``max_chunk_seconds``).
    max_seconds: float
    #: ``transcribe.max_duration_seconds``: a longer recording is refused.
    max_duration: float
    #: ``transcribe.audio_track``: "auto", an index, or a language.
    audio_track: int | str = "auto"
    #: Parts sent side by side (the plan balances the last ones over them).
    concurrency: int = 1
    #: Parts planned before (a restart): written again as they were.
    parts: tuple[Part, ...] = ()
    #: Where a streamed plan cut short by a restart goes on.
    resume: Place | None = None
    #: Encoder threads (0: as many as the machine has cores free).
    encoders: int = 0
    #: Hear all the speech and keep it beside each file (``recover_speech``).
    speech: bool = False
    #: The index the first of ``parts`` is named by (the coverage pass's follow the plan's).
    first_index: int = 0
    #: Bits per second to encode at (:func:`upload_bit_rate`); None: the format's own.
    bit_rate: int | None = None


@dataclass(frozen=True)
class HearRequest:
    """Hear only: the speech in a recording that was uploaded as it is; no file written."""

    source: str
    #: ``transcribe.max_duration_seconds``: a longer recording is refused.
    max_duration: float
    #: ``transcribe.audio_track``: "auto", an index, or a language (the track sent).
    audio_track: int | str = "auto"


@dataclass(frozen=True)
class Heard:
    """The speech heard (seconds on the recording's clock) and the recording's length."""

    speech: tuple[tuple[float, float], ...]
    duration: float


@dataclass(frozen=True)
class PartFile(Part):
    """A file written: the stretch of the recording it holds, its name in the work
    directory and its size."""

    path: str
    bytes: int

    def __post_init__(self) -> None:
        # The daemon uploads the file of that name: a worker taken over by a hostile
        # recording must not be able to name another file for it to send.
        if "/" in self.path or "\0" in self.path or self.path in ("", ".", ".."):
            raise ValueError(f"a part's file is a name in the work directory, not {self.path!r}")


@dataclass(frozen=True)
class PartWritten:
    part: PartFile


@dataclass(frozen=True)
class Compacted:
    """The manifest: every file written, the recording's duration and track (both
    unknown when earlier parts were only written again)."""

    parts: tuple[PartFile, ...]
    duration: float | None = None
    format: str = ""
    track: dict[str, object] | None = None


@dataclass(frozen=True)
class CompactFailed:
    """The recording is at fault; ``message`` is one sentence for the user."""

    message: str


CompactAnswer = Ready | PartWritten | Compacted | Heard | CompactFailed
#: What the daemon takes from the worker (anything else ends it).
ANSWERS: tuple[type[CompactAnswer], ...] = (Ready, PartWritten, Compacted, Heard, CompactFailed)
