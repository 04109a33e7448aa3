"""What a file's headers say about its length, read before anything is decoded.

Two uses, two levels of trust. A claim of the *file's* length (any header,
the container's duration) is enough to refuse a recording over the duration
limit without decoding it. A claim of the *audio track's* length is needed to
call a file truncated when less decodes. Lengths that ffmpeg only estimates
(a plain MP3's size over its first frame's bit rate) are no claim at all: a
variable bit rate can make them wrong by a factor.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

#: Where a first MP3 frame's Xing, Info or VBRI tag can be (after any ID3v2 tag).
_MP3_TAG_WINDOW = 256


@dataclass(frozen=True)
class Claim:
    """The length a file's headers promise, in seconds."""

    #: The file's length (refuse before decoding when it is over the limit).
    file_seconds: float | None
    #: The chosen audio track's own length (decoding much less means truncated).
    track_seconds: float | None


def read_claim(source: BinaryIO, container: Any, stream: Any) -> Claim:
    """Return what the headers of an opened file claim about its length.

    ``source`` is the file PyAV reads from; its position is restored.
    """
    position = source.tell()
    try:
        source.seek(0)
        head = source.read(64 * 1024)
        source.seek(0)
        wav = wav_claimed_seconds(source)
    finally:
        source.seek(position)
    whole = float(container.duration) / 1e6 if container.duration else None
    if wav is not None:
        # The data chunk's size when the header gives it; else ffmpeg's length from the
        # file's size, exact for PCM at a constant byte rate, but no claim of the track.
        return Claim(wav or whole, wav or None)
    if container.format.name == "mp3" and not has_mp3_length_tag(head):
        return Claim(None, None)
    track = _seconds(stream.duration, stream.time_base)
    if track is None and len(container.streams) == 1:
        track = whole  # the only stream: the container's length is the track's
    return Claim(whole if whole is not None else track, track)


def _seconds(duration: int | None, time_base: Any) -> float | None:
    if not duration or duration < 0 or time_base is None:
        return None
    return float(duration * time_base)


def has_mp3_length_tag(head: bytes) -> bool:
    """Return True when an MP3's first frame carries a Xing, Info or VBRI length tag."""
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        size = head[6:10]  # a "syncsafe" integer: 7 bits a byte
        start = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    window = head[start : start + _MP3_TAG_WINDOW]
    return any(tag in window for tag in (b"Xing", b"Info", b"VBRI"))


def wav_claimed_seconds(stream: BinaryIO) -> float | None:
    """Read a RIFF/WAVE header: the data chunk's size over the byte rate.

    Returns None when the file is not a WAV, 0.0 when its length is unknown.
    """
    try:
        header = stream.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        byte_rate = 0
        while chunk := stream.read(8):
            if len(chunk) < 8:
                return 0.0
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = stream.read(size + (size & 1))
                byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else 0
            elif name == b"data":
                # Streaming writers leave 0 or 0xFFFFFFFF: the length is unknown.
                if not byte_rate or size in (0, 0xFFFFFFFF):
                    return 0.0
                return float(size / byte_rate)
            else:
                stream.seek(size + (size & 1), 1)
    except OSError:
        return 0.0
    return 0.0


def flac_claimed_seconds(stream: BinaryIO) -> float | None:
    """Read a FLAC STREAMINFO block: its total samples over its sample rate.

    Returns None when the file is not FLAC or the header does not tell.
    """
    try:
        head = stream.read(4 + 4 + 34)
    except OSError:
        return None
    if len(head) < 42 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:
        return None
    info = head[8:]
    rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
    total = ((info[13] & 0x0F) << 32) | struct.unpack(">I", info[14:18])[0]
    return float(total / rate) if rate and total else None


#: MPEG audio sample rates by version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) and index.
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_first_frame(stream: BinaryIO) -> bytes:
    """Return the start of the first MPEG frame, after any ID3v2 tag."""
    head = stream.read(10)
    if head[:3] == b"ID3" and len(head) == 10:
        size = head[6:10]  # a "syncsafe" integer: 7 bits a byte
        stream.seek(10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]))
    else:
        stream.seek(0)
    return stream.read(_MP3_TAG_WINDOW)


def mp3_claimed_seconds(stream: BinaryIO) -> float | None:
    """Read an MP3's Xing/Info tag: its frames, less the encoder's delay and padding
    from a LAME tag (as ffmpeg counts them). None without such a tag."""
    frame = _mp3_first_frame(stream)
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0:
        return None
    version, layer, index = (frame[1] >> 3) & 3, (frame[1] >> 1) & 3, (frame[2] >> 2) & 3
    if version == 1 or layer != 1 or index == 3:
        return None  # reserved values, or not Layer III
    at = max(frame.find(b"Xing"), frame.find(b"Info"))
    if at < 0 or len(frame) < at + 12 or not frame[at + 7] & 1:
        return None  # no frame count
    flags = frame[at + 7]
    samples = struct.unpack(">I", frame[at + 8 : at + 12])[0] * (1152 if version == 3 else 576)
    lame = at + 12 + (4 if flags & 2 else 0) + (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
    if frame[lame : lame + 4] in (b"LAME", b"Lavf", b"Lavc") and len(frame) >= lame + 24:
        delay = (frame[lame + 21] << 4) | (frame[lame + 22] >> 4)
        samples -= delay + (((frame[lame + 22] & 0x0F) << 8) | frame[lame + 23])
    return samples / _MPEG_RATES[version][index] if samples > 0 else None


def ogg_claimed_seconds(stream: BinaryIO) -> float | None:
    """Read an Ogg Opus or Vorbis file's last page: its granule position (less Opus's
    pre-skip) over the stream's rate. None when it is neither."""
    head = stream.read(4096)
    if head[:4] != b"OggS":
        return None
    opus, vorbis = head.find(b"OpusHead"), head.find(b"\x01vorbis")
    if opus >= 0 and len(head) >= opus + 12:
        rate, skip = 48000, struct.unpack("<H", head[opus + 10 : opus + 12])[0]
    elif vorbis >= 0 and len(head) >= vorbis + 16:
        rate, skip = struct.unpack("<I", head[vorbis + 12 : vorbis + 16])[0], 0
    else:
        return None
    size = stream.seek(0, 2)
    stream.seek(max(0, size - 65536))
    tail = stream.read()
    last = tail.rfind(b"OggS")
    if last < 0 or len(tail) < last + 14 or not rate:
        return None
    granule = struct.unpack("<q", tail[last + 6 : last + 14])[0]
    return (granule - skip) / rate if granule > skip else None


def header_seconds(stream: BinaryIO) -> float | None:
    """Return a recording's length as its headers state it (WAV, FLAC, MP3 with a
    Xing or Info tag, Ogg Opus or Vorbis), read without a decoder (the daemon itself
    may call this); None when they do not."""
    readers = (wav_claimed_seconds, flac_claimed_seconds, mp3_claimed_seconds, ogg_claimed_seconds)
    for reader in readers:
        stream.seek(0)
        try:
            seconds = reader(stream)
        except (OSError, struct.error, IndexError):
            seconds = None  # a header too short or broken to tell
        if seconds:
            return seconds
    return None
