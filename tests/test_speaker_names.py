"""Speakers by name, stereo calls and the guarded cut: the real encoder on espeak-ng voices.

Each voice is enrolled from some of its recordings and tested on others, as a
user would enroll a colleague from last week's call. The voices (plain
``en-us``, the fixtures' voice, and ``en-us+f4``) are enrolled; a third
(``en+klatt2``, espeak-ng's Klatt synthesizer) is a stranger and must never get a
name. The naming encoder (CAM++) scores it 0.50-0.59 against ``en-us`` and 0.04-0.12
against ``en-us+f4``; the other formant voices of espeak-ng are too alike to it to
serve as strangers (``en-gb-x-rp+f2`` scored 0.70 against ``en-us+f4``: one
synthesizer, shifted formants), as real voices are not (bench/README.md, issue 22).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dropscribe.speakers.clustering import assign_speakers, guarded_cut, merge_tree
from dropscribe.speakers.enrolment import enrolled_people
from dropscribe.speakers.naming import NAME_MARGIN, NAME_SIMILARITY, assign_names
from dropscribe.speakers.request import CountLimits, DiarizeRequest, SpeakerDetail
from dropscribe.speakers.voices import CACHE_NAME
from dropscribe.speakers.worker import diarize_words

AUDIO = Path(__file__).parent / "fixtures" / "audio"
RATE = 16000
Floats = np.ndarray[Any, np.dtype[np.float32]]
VOICES = {
    "us": ["-v", "en-us", "-s", "150"],
    "f4": ["-v", "en-us+f4", "-p", "80"],
    "klatt": ["-v", "en+klatt2"],
}
ENROL = [
    "Good morning, this is the front desk speaking.",
    "I will put you through to the right person in a moment.",
    "Thank you for waiting, the line is free now.",
]
TALK = [
    "Could you tell me when the next train leaves for the city?",
    "The next one leaves at half past ten from platform four.",
    "Is there a later connection in the evening as well?",
    "Yes, there is one every hour until midnight.",
    "Then I will take the one at seven, thank you.",
    "You are welcome, have a pleasant journey.",
]


def speak(voice: str, text: str, folder: Path) -> Floats:
    raw, wav = folder / f"{voice}.raw.wav", folder / f"{voice}.wav"
    subprocess.run(["espeak-ng", *VOICES[voice], "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    with wave.open(str(wav)) as handle:
        data = np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
    return (data.astype(np.float32) / 32768.0) * 0.5 / max(1e-6, float(np.abs(data).max()) / 32768)


def write_wav(path: Path, audio: Floats) -> Path:
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return path


Turn = tuple[float, float, str]


def converse(pieces: list[tuple[str, Floats]]) -> tuple[Floats, list[Turn]]:
    """Join the pieces with 0.4 s between turns; return the mix and (start, end, voice)."""
    gap = np.zeros(int(0.4 * RATE), np.float32)
    parts, turns, cursor = [], [], 0.0
    for voice, audio in pieces:
        turns.append((cursor, cursor + len(audio) / RATE, voice))
        parts += [audio, gap]
        cursor += (len(audio) + len(gap)) / RATE
    return np.concatenate(parts), turns


def word_grid(turns: list[Turn]) -> tuple[list[tuple[float, float]], list[str]]:
    """Stand-in words every 0.3 s inside each turn (naming does not depend on the text)."""
    spans, truth = [], []
    for start, end, voice in turns:
        for first in np.arange(start + 0.1, end - 0.3, 0.3):
            spans.append((float(first), float(first) + 0.25))
            truth.append(voice)
    return spans, truth


@pytest.fixture(scope="module")
def voices_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plain en-us enrolled as "Ann Lee" from two fixture recordings; f4 as "Bo" from
    three sentences of its own."""
    folder = tmp_path_factory.mktemp("voices")
    (folder / "Ann Lee").mkdir()
    for name in ("fox.wav", "weather.wav"):
        shutil.copy(AUDIO / name, folder / "Ann Lee" / name)
    (folder / "Bo").mkdir()
    scratch = tmp_path_factory.mktemp("scratch")
    for number, text in enumerate(ENROL):
        write_wav(folder / "Bo" / f"desk{number}.wav", speak("f4", text, scratch))
    return folder


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[Turn]]]:
    """Two conversations in sentences the enrolment never heard: the enrolled pair, and
    an enrolled voice (en-us) with the stranger."""
    folder = tmp_path_factory.mktemp("calls")
    found = {}
    for name, pair in {"pair": ("us", "f4"), "stranger": ("us", "klatt")}.items():
        pieces = [(pair[n % 2], speak(pair[n % 2], text, folder)) for n, text in enumerate(TALK)]
        audio, turns = converse(pieces)
        found[name] = (write_wav(folder / f"{name}.wav", audio), turns)
    return found


def label(path: Path, turns: list[Turn], voices: Path) -> tuple[dict[str, Any], list[str]]:
    spans, truth = word_grid(turns)
    limits = CountLimits(speakers=2, voices=str(voices))
    return diarize_words(DiarizeRequest(str(path), spans, limits)), truth


def test_enrolled_people_are_named_on_their_words(
    voices_folder: Path, calls: dict[str, tuple[Path, list[Turn]]]
) -> None:
    answer, truth = label(*calls["pair"], voices_folder)
    expected = {"us": "Ann Lee", "f4": "Bo"}
    right = sum(
        1 for got, voice in zip(answer["labels"], truth, strict=True) if got == expected[voice]
    )
    assert right / len(truth) >= 0.95, answer["details"]
    assert answer["details"]["Ann Lee"]["enrolled"] is True
    assert answer["details"]["Bo"]["score"] >= NAME_SIMILARITY


def test_a_stranger_is_never_named(
    voices_folder: Path, calls: dict[str, tuple[Path, list[Turn]]]
) -> None:
    answer, truth = label(*calls["stranger"], voices_folder)
    stranger = [got for got, voice in zip(answer["labels"], truth, strict=True) if voice == "klatt"]
    assert stranger and all(got is not None and got.startswith("SPEAKER_") for got in stranger)
    unnamed = next(label for label in set(stranger))
    assert answer["details"][unnamed]["enrolled"] is False
    enrolled = [got for got, voice in zip(answer["labels"], truth, strict=True) if voice == "us"]
    assert enrolled.count("Ann Lee") / len(enrolled) >= 0.95
    assert "Bo" not in answer["labels"]  # one name, one speaker: never given twice


def test_a_voices_folder_that_is_gone_costs_the_names_not_the_labels(
    calls: dict[str, tuple[Path, list[Turn]]], tmp_path: Path
) -> None:
    from dropscribe.speakers.runner import DiarizeOutcome, with_outcome
    from dropscribe.transcript import Transcription, make_segment, make_word

    answer, _ = label(*calls["pair"], tmp_path / "gone")
    assert set(answer["labels"]) == {"SPEAKER_1", "SPEAKER_2"}
    assert answer["note"].startswith("Speakers were not named from the voices folder: ")
    words = [make_word("Hi.", 0.0, 0.5, 0.9)]
    result = Transcription([make_segment(" Hi.", 0.0, 0.5, words)], "en", 1.0, 1.0)
    outcome = DiarizeOutcome(["SPEAKER_1"], 1, None, 0.1, {}, answer["note"])
    assert with_outcome(result, outcome).warnings == [answer["note"]]


def test_the_folder_is_read_again_and_the_cache_follows_it(
    voices_folder: Path, calls: dict[str, tuple[Path, list[Turn]]], tmp_path: Path
) -> None:
    folder = tmp_path / "voices"
    shutil.copytree(voices_folder / "Ann Lee", folder / "Ann Lee")
    before, _ = label(*calls["pair"], folder)
    assert "Bo" not in before["labels"]
    cache = json.loads((folder / CACHE_NAME).read_text())
    assert set(cache["samples"]) == {"Ann Lee/fox.wav", "Ann Lee/weather.wav"}
    shutil.copytree(voices_folder / "Bo", folder / "Bo")  # no restart: the next call sees Bo
    after, _ = label(*calls["pair"], folder)
    assert "Bo" in after["labels"]
    assert len(json.loads((folder / CACHE_NAME).read_text())["samples"]) == 5


def test_cached_vectors_are_remade_when_a_sample_or_the_encoder_changes(
    voices_folder: Path, tmp_path: Path
) -> None:
    from dropscribe.audio.decode import decode_file
    from dropscribe.speakers.campplus import NameEncoder

    folder = tmp_path / "voices"
    shutil.copytree(voices_folder / "Bo", folder / "Bo")
    decoded: list[str] = []

    def decode(path: Path) -> Floats:
        decoded.append(path.name)
        return decode_file(path, 3600).samples

    encoder = NameEncoder.load()
    enrolled_people(folder, encoder, decode)
    assert sorted(decoded) == ["desk0.wav", "desk1.wav", "desk2.wav"]
    decoded.clear()
    people = enrolled_people(folder, encoder, decode)
    assert decoded == [] and len(people[0].vectors) == 6  # all from the cache: 3 samples, 2 ways
    shutil.copy(AUDIO / "numbers.wav", folder / "Bo" / "desk1.wav")  # another recording
    enrolled_people(folder, encoder, decode)
    assert decoded == ["desk1.wav"]
    decoded.clear()
    other = NameEncoder(encoder._session, "campplus-other-weights/graph")  # another encoder
    enrolled_people(folder, other, decode)
    assert sorted(decoded) == ["desk0.wav", "desk1.wav", "desk2.wav"]


def test_missing_naming_weights_cost_the_names_with_the_install_sentence(
    voices_folder: Path,
    calls: dict[str, tuple[Path, list[Turn]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dropscribe.speakers import campplus

    monkeypatch.setattr(campplus, "WEIGHTS_IN_PACKAGE", "models/none/absent.pt")
    answer, _ = label(*calls["pair"], voices_folder)
    assert set(answer["labels"]) == {"SPEAKER_1", "SPEAKER_2"}
    assert answer["note"].startswith("Speakers were not named from the voices folder: ")
    assert answer["note"].endswith(f"install them with `{campplus.INSTALL_HINT}`")


def test_names_are_one_to_one_above_the_threshold_with_a_margin() -> None:
    above, close = NAME_SIMILARITY + 0.2, NAME_SIMILARITY + 0.1
    scores = np.array([[above, 0.30], [close, 0.40], [close, close - NAME_MARGIN / 2]], np.float32)
    matches = assign_names(scores, ["Ann", "Bo"], [30.0, 30.0, 30.0])
    assert [m.name for m in matches] == ["Ann", None, None]  # Ann once; row 3 too close
    below = NAME_SIMILARITY - 0.01
    low = assign_names(np.array([[below, 0.2]], np.float32), ["Ann", "Bo"], [30.0])
    assert low[0].name is None and low[0].score == pytest.approx(below, abs=1e-3)
    brief = assign_names(np.array([[above, 0.2]], np.float32), ["Ann", "Bo"], [0.25])
    assert brief[0].name is None  # a few words are too little to name


def test_a_stereo_call_is_labelled_by_channel_exactly(tmp_path: Path) -> None:
    # Each side on its own channel, with a little crosstalk (-54 dB) from the other.
    voices = ["us", "f4"] * 3
    gap = np.zeros(int(0.3 * RATE), np.float32)
    sides: list[list[Floats]] = [[], []]
    turns, cursor = [], 0.0
    for voice, text in zip(voices, TALK, strict=True):
        audio = speak(voice, text, tmp_path)
        own = voices.index(voice)
        sides[own] += [audio, gap]
        sides[1 - own] += [0.002 * audio, gap]
        turns.append((cursor, cursor + len(audio) / RATE, voice))
        cursor += (len(audio) + len(gap)) / RATE
    stereo = np.stack([np.concatenate(sides[0]), np.concatenate(sides[1])], axis=1)
    path = write_wav(tmp_path / "call.wav", stereo)
    spans, truth = word_grid(turns)
    answer = diarize_words(DiarizeRequest(str(path), spans, CountLimits()))
    expected = {"us": "SPEAKER_1", "f4": "SPEAKER_2"}
    assert answer["labels"] == [expected[voice] for voice in truth]
    assert answer["details"] == {"SPEAKER_1": {"channel": 1}, "SPEAKER_2": {"channel": 2}}
    mono_as_stereo = write_wav(tmp_path / "twin.wav", np.stack([stereo.sum(1)] * 2, axis=1))
    twin = diarize_words(DiarizeRequest(str(mono_as_stereo), spans, CountLimits(speakers=2)))
    assert twin["details"] == {}  # equal channels: clustered, not split by channel


def test_the_guarded_cut_keeps_two_real_groups_over_a_turn_change_splinter() -> None:
    rng = np.random.default_rng(3)
    axes = np.eye(3, 256, dtype=np.float32)
    # 20 windows of A, 20 of B, and 2 unlike both (a turn change with overlap): a plain
    # cut at two makes those 2 windows "the second speaker".
    truth = [0] * 20 + [1] * 20 + [2] * 2
    vectors = axes[truth] + 0.05 * rng.standard_normal((42, 256)).astype(np.float32)
    vectors[:40] += 0.6 * axes[0]  # A and B alike (same sex, same line), the splinter not
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kept = guarded_cut(vectors, merge_tree(vectors), 2)
    owners = np.argmax(vectors @ kept.T, axis=1)
    assert len(set(owners[:20].tolist())) == 1 and len(set(owners[20:40].tolist())) == 1
    assert owners[0] != owners[20]
    labels = assign_speakers(vectors, np.ones(42), CountLimits(speakers=2))
    assert labels[:20].tolist() == [0] * 20 and labels[20:40].tolist() == [1] * 20


def test_dropscribe_voices_adds_a_speaker_from_a_labelled_transcript_and_lists_it(
    tmp_path: Path, calls: dict[str, tuple[Path, list[Turn]]]
) -> None:
    path, turns = calls["pair"]
    segments = [
        {
            "start": start,
            "end": end,
            "text": "",
            "words": [],
            "speaker": f"SPEAKER_{1 + (v == 'f4')}",
        }
        for start, end, v in turns
    ]
    transcript = tmp_path / "call.json"
    transcript.write_text(json.dumps({"response": {"segments": segments}, "source": {"path": "x"}}))
    config = tmp_path / "config.toml"
    config.write_text(f'[transcribe]\nvoices = "{tmp_path / "voices"}"\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    command = [sys.executable, "-m", "dropscribe", "voices", "--config", str(config)]
    added = subprocess.run(
        [*command, "add", "Bo", str(transcript), "SPEAKER_2", "--audio", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    sample = tmp_path / "voices" / "Bo" / "call-SPEAKER_2.wav"
    with wave.open(str(sample)) as handle:
        seconds = handle.getnframes() / handle.getframerate()
    spoken = sum(end - start for start, end, v in turns if v == "f4")
    assert spoken <= seconds <= spoken + 0.2 * 3 + 0.1
    listed = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert listed.stdout.startswith("Bo: 1 sample, ")
    missing = subprocess.run(
        [*command, "add", "Bo", str(transcript), "SPEAKER_9", "--audio", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 1 and "SPEAKER_9" in missing.stderr


def test_a_name_replaces_the_label_in_every_sidecar() -> None:
    import jsonschema

    from dropscribe.outbox.document import build_document, load_schema
    from dropscribe.outbox.formats import to_srt, to_txt, to_vtt
    from dropscribe.speakers.runner import DiarizeOutcome, with_outcome
    from dropscribe.transcript import Transcription, make_segment, make_word

    words = [
        make_word("Hello", 0.0, 0.5, 0.9),
        make_word("there.", 0.6, 1.0, 0.9),
        make_word("Hi.", 1.5, 2.0, 0.9),
    ]
    result = Transcription([make_segment(" Hello there. Hi.", 0.0, 2.0, words)], "en", 2.0, 1.0)
    details: dict[str, SpeakerDetail] = {
        "Ann Lee": {"enrolled": True, "score": 0.91},
        "SPEAKER_2": {"enrolled": False, "score": 0.62},
    }
    outcome = DiarizeOutcome(["Ann Lee", "Ann Lee", "SPEAKER_2"], 2, None, 0.1, details)
    labelled = with_outcome(result, outcome)
    document = build_document(
        labelled, source_path="a.wav", sha256="0" * 64, size=1, backend="local"
    )
    jsonschema.validate(document, load_schema())
    assert document["speakers"] == [
        {"label": "Ann Lee", "seconds": 1.0, "enrolled": True, "score": 0.91},
        {"label": "SPEAKER_2", "seconds": 0.5, "enrolled": False, "score": 0.62},
    ]
    assert [s["speaker"] for s in document["response"]["segments"]] == ["Ann Lee", "SPEAKER_2"]
    assert to_txt(document).startswith("Ann Lee: Hello there.")
    assert "Ann Lee: Hello there." in to_srt(document)
    assert "<v Ann Lee>Hello there." in to_vtt(document)


def test_check_says_when_the_voices_folder_is_missing(tmp_path: Path) -> None:
    from dropscribe.config import Settings
    from dropscribe.speakers.runner import setup_problem

    asked = {"diarize": True, "voices": str(tmp_path / "absent")}
    problem = setup_problem(Settings(folders={"calls": asked}))
    assert problem is not None and problem.startswith("transcribe.voices: ")
    (tmp_path / "absent").mkdir()
    assert setup_problem(Settings(folders={"calls": asked})) is None


def test_check_names_the_install_command_when_the_naming_weights_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dropscribe.config import Settings
    from dropscribe.speakers import campplus
    from dropscribe.speakers.runner import setup_problem

    monkeypatch.setattr(campplus, "WEIGHTS_IN_PACKAGE", "models/none/absent.pt")
    labels_only = {"diarize": True}
    assert setup_problem(Settings(folders={"calls": labels_only})) is None
    named = {"diarize": True, "voices": str(tmp_path)}
    problem = setup_problem(Settings(folders={"calls": named}))
    assert problem is not None and problem.startswith("transcribe.voices: ")
    assert problem.endswith(f"`{campplus.INSTALL_HINT}`")
