"""Video containers dropped into a running daemon (issue 13): the real process and engine."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import AUDIO, DaemonProcess, reference, wait_for, word_error_rate, write_config
from tests.test_daemon import SIDECARS, drop, finished


def test_an_mp4_and_an_mkv_get_transcripts_and_a_silent_video_one_clear_error(
    workdir: Path,
) -> None:
    config = write_config(workdir)  # the default extensions: no video listed by hand
    inbox, outbox = workdir / "inbox", workdir / "outbox"
    inbox.mkdir()
    with DaemonProcess(config) as daemon:
        daemon.wait_event("ready", timeout=30)
        drop(AUDIO / "weather.mp4", inbox, "meeting.mp4")
        # Two audio tracks: another recording first, the weather speech marked default.
        drop(AUDIO / "two_tracks.mkv", inbox, "dubbed.mkv")
        drop(AUDIO / "silent_video.mp4", inbox, "screen.mp4")
        wait_for(
            lambda: all(finished(outbox, stem) for stem in ("meeting", "dubbed", "screen")),
            90,
            "the three outcomes",
        )
        chosen = daemon.wait_event("audio_track", timeout=5, tracks=2)
        assert daemon.stop() == 0
    for stem in ("meeting", "dubbed"):
        assert all((outbox / f"{stem}.{ext}").exists() for ext in SIDECARS), stem
        document = json.loads((outbox / f"{stem}.json").read_text())
        assert word_error_rate(reference("weather"), document["transcription"]) < 0.35, stem
    assert chosen["track"] == 1 and chosen["reason"] == "the track marked default"
    error = json.loads((outbox / "screen.error.json").read_text())["error"]
    assert error.startswith("The file holds no audio track (it has video)")
