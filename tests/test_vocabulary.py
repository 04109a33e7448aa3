"""The user's words (issue 27): ``vocabulary`` and ``prompt`` per folder, into every request.

Remote engines are real servers on 127.0.0.1 (the fake RunPod worker and the
fake Replicate refuse inputs the real ones do not know, so a misnamed field
fails); the settings are read from real files; the local engine is the real
one on real audio.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dropscribe.audio import SAMPLE_RATE
from dropscribe.audio.decode import decode_file
from dropscribe.backends.base import Request
from dropscribe.backends.local.engine import Engine
from dropscribe.backends.local.protocol import PARENT_MESSAGES, Job
from dropscribe.commands.checks_words import check_words
from dropscribe.config import Words, load_settings
from dropscribe.config.vocabulary import parse_terms
from dropscribe.errors import ConfigError
from dropscribe.transcript.respelling import respell
from dropscribe.workers.messages import decode, encode
from tests.helpers import AUDIO, tiny_engine_options, write_config
from tests.remote_setup import SERVERS, TOKEN, make_backend
from tests.test_remote_backends import settle

WORDS = Words(("Dashwood", "Norland", "Kubernetes"), "A reading from a novel.")
PROMPT = "A reading from a novel. Dashwood. Norland. Kubernetes."


def request(words: Words) -> Request:
    path = AUDIO / "weather.mp3"
    return Request(1, path, path.name, path.stat().st_size, "auto", "transcribe", words=words)


# --- each engine's request -------------------------------------------------------------

#: Where each protocol carries the words: RunPod's worker and Replicate's Whisper take an
#: initial prompt, OpenAI-compatible servers a ``prompt`` form field.
FIELDS = {"runpod": "initial_prompt", "replicate": "initial_prompt", "openai": "prompt"}


@pytest.mark.parametrize("name", list(FIELDS))
def test_the_words_reach_each_remote_engine_in_its_own_field(tmp_path: Path, name: str) -> None:
    with SERVERS[name]() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, name, server.url)
        try:
            settle(backend, backend.submit(request(WORDS)))
            settle(backend, backend.submit(request(Words())))
        finally:
            backend.close()
    with_words, without = (job.fields for job in server.submissions)
    sent = with_words[FIELDS[name]]
    assert (sent[0] if name == "openai" else sent) == PROMPT
    assert FIELDS[name] not in without


def test_octoai_has_no_field_for_words_and_is_sent_none(tmp_path: Path) -> None:
    with SERVERS["octoai"]() as server:
        server.token = TOKEN
        backend = make_backend(tmp_path, "octoai", server.url)
        try:
            settle(backend, backend.submit(request(WORDS)))
        finally:
            backend.close()
    assert server.submissions[0].fields == {"task": "transcribe"}


def test_the_terms_are_written_as_short_sentences_after_the_prompt() -> None:
    assert WORDS.terms_text() == "Dashwood. Norland. Kubernetes."
    assert Words(("Dr. Who?",)).terms_text() == "Dr. Who?"
    assert WORDS.as_prompt() == PROMPT
    assert Words().terms_text() is None and Words().as_prompt() is None


def test_the_engine_gets_the_terms_one_by_one_as_written() -> None:
    # The respelling needs the terms themselves: "Dr. Who?" must not come back as two.
    terms = ("Dashwood", "Home Assistant", "Yahoo!", "Dr. Who?")
    job = Job(1, "x.wav", "en", "transcribe", 60.0, terms=Words(terms).terms_text())
    job = dataclasses.replace(job, term_list=terms)
    back = decode(encode(job), PARENT_MESSAGES)
    assert back == job and isinstance(back, Job) and back.term_list == terms


# --- the settings ----------------------------------------------------------------------


def test_a_folder_replaces_the_words_and_a_file_is_read_relative_to_the_config(
    tmp_path: Path,
) -> None:
    clinic = "# the clinic's names\nDashwood\n\n  Norland  \nDashwood\n"
    (tmp_path / "clinic.txt").write_text(clinic)
    config = write_config(
        tmp_path,
        {
            "transcribe": {"vocabulary": ["Kubernetes", " dropscribe "], "prompt": "A meeting."},
            'folders."clinic"': {"vocabulary": "clinic.txt"},
            'folders."clinic/quiet"': {"prompt": ""},
        },
    )
    settings = load_settings(config)
    assert settings.words_for("a.wav") == Words(("Kubernetes", "dropscribe"), "A meeting.")
    assert settings.words_for("clinic/b.wav") == Words(("Dashwood", "Norland"), "A meeting.")
    assert settings.words_for("clinic/quiet/c.wav") == Words(("Dashwood", "Norland"), None)


def test_a_vocabulary_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    terms = tmp_path / "terms.txt"
    terms.write_text("Dashwood\n")
    settings = load_settings(write_config(tmp_path, {"transcribe": {"vocabulary": str(terms)}}))
    assert settings.words_for("a.wav").terms == ("Dashwood",)
    terms.write_text("Dashwood\nNorland\n")
    os.utime(terms, ns=(1, 1))  # a new mtime even on a coarse clock
    assert settings.words_for("a.wav").terms == ("Dashwood", "Norland")
    terms.unlink()  # gone later: the last terms read are kept
    assert settings.words_for("a.wav").terms == ("Dashwood", "Norland")


def test_a_missing_vocabulary_file_is_one_clear_configuration_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, {'folders."clinic"': {"vocabulary": "nowhere.txt"}})
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    (line,) = raised.value.problems
    assert line.startswith('folders."clinic".vocabulary: cannot read ')
    assert "nowhere.txt" in line


def test_a_variable_holds_a_json_list_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t.txt").write_text("Norland\n")
    config = write_config(tmp_path)
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__VOCABULARY", '["Dashwood", "Norland"]')
    assert load_settings(config).words_for("a.wav").terms == ("Dashwood", "Norland")
    monkeypatch.setenv("DROPSCRIBE_TRANSCRIBE__VOCABULARY", str(tmp_path / "t.txt"))
    assert load_settings(config).words_for("a.wav").terms == ("Norland",)


def test_terms_are_one_a_line_each_once_without_comments() -> None:
    assert parse_terms("A\n# b\n\n  C \nA\r\nD") == ("A", "C", "D")


def test_the_words_are_part_of_the_fingerprint_only_when_there_are_some() -> None:
    assert Words().fingerprint() is None
    assert WORDS.fingerprint() != Words(WORDS.terms).fingerprint()
    assert WORDS.fingerprint() == Words(WORDS.terms, WORDS.prompt).fingerprint()


# --- the local engine: every part of a long recording ------------------------------------

PAUSE_SECONDS = 1.5
TERMS = ("Dashwood", "Norland", "dropscribe", "Kubernetes")


@pytest.fixture(scope="module")
def engine() -> Engine:
    options = tiny_engine_options(cpu_threads=1, parallel_decodes=2, batched="parts")
    return Engine(options)


def spelt_right(text: str) -> list[str]:
    """The terms in ``text``, in order, as written."""
    return [word for word in re.findall(r"[A-Za-z]+", text) if word in TERMS]


def heard_terms(text: str) -> list[str]:
    """The terms in ``text``, in order, whatever their case."""
    by_letters = {term.lower(): term for term in TERMS}
    return [
        by_letters[w.lower()] for w in re.findall(r"[A-Za-z]+", text) if w.lower() in by_letters
    ]


def test_every_part_of_a_long_recording_is_decoded_with_the_words(engine: Engine) -> None:
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    clips = ["terms", "fox", "weather", "numbers", "terms"]
    audio = np.concatenate(
        [
            piece
            for name in clips
            for piece in (decode_file(AUDIO / f"{name}.wav", 600).samples, pause)
        ]
    )
    words = Words(TERMS)
    told = Job(1, "joined", "en", "transcribe", 600, terms=words.terms_text())
    plain = Job(2, "joined", "en", "transcribe", 600)
    with_words, decoding = engine.transcribe(told, audio, 2, lambda _seconds: None)
    without, _ = engine.transcribe(plain, audio, 2, lambda _seconds: None)
    assert decoding == "parts"
    # Without the words tiny.en gets most of them wrong (the test can fail); with them,
    # the last part, far from the first window, has them as right as the first.
    assert len(heard_terms(without.text)) <= 2, without.text
    heard = [word for segment in with_words.segments for word in segment["words"]]
    last = heard[-1]["end"]
    assert last > 30
    # The terms clip lasts 5.6 s: at the start, and again at the end.
    early = " ".join(w["word"] for w in heard if w["start"] < 6.5)
    late = " ".join(w["word"] for w in heard if w["start"] > last - 6.5)
    # Heard, whatever the case: tiny.en's capitals come and go with the CPU's int8
    # kernels (one machine wrote "dashwood" in the last part; the post-pass, off here,
    # writes a term as the user gave it). Without the words it hears at most two.
    assert heard_terms(early) == list(TERMS), early
    assert heard_terms(late) == list(TERMS), late


def test_each_part_is_given_the_words_exactly_as_a_short_file_is(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bench/README.md (issue 27): what the vocabulary does in long files in parts was
    # traced to what tiny.en does with one window and the prompt, not to the parts.
    asked: list[tuple[float, dict[str, object]]] = []
    transcribe = engine.model.transcribe

    def recorded(audio: np.ndarray, **options: object) -> object:
        asked.append((len(audio) / SAMPLE_RATE, options))
        return transcribe(audio, **options)

    monkeypatch.setattr(engine.model, "transcribe", recorded)
    clips = [decode_file(AUDIO / f"{name}.wav", 600).samples for name in ("terms", "fox")]
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    long = np.concatenate([piece for clip in clips * 3 for piece in (clip, pause)])
    job = Job(1, "x", "en", "transcribe", 600, terms=Words(TERMS).terms_text())
    options = engine.options
    try:
        engine.options = dataclasses.replace(options, batched="auto")
        _, decoding = engine.transcribe(job, clips[0], 2, lambda _seconds: None)
        assert decoding == "sequential"
        short = asked[:1]
        engine.options = dataclasses.replace(options, batched="parts")
        _, decoding = engine.transcribe(job, long, 2, lambda _seconds: None)
    finally:
        engine.options = options
    assert decoding == "parts"
    # The coverage pass (condition_on_previous_text=False) aside, every part is asked
    # exactly what the short file was: the words as initial prompt, no prefix, one
    # sequential decode of audio under a window.
    parts = [(at, told) for at, told in asked[1:] if "condition_on_previous_text" not in told]
    assert len(parts) >= 2
    assert short[0][1]["initial_prompt"] == "Dashwood. Norland. dropscribe. Kubernetes."
    for seconds, told in parts:
        assert (told, seconds <= 30) == (short[0][1], True)


# --- check ---------------------------------------------------------------------------


def test_check_names_the_engine_that_ignores_the_words_and_what_the_others_do(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        write_config(
            tmp_path,
            {
                "transcribe": {"backend": "octoai", "vocabulary": ["Dashwood"]},
                "backends.octoai": {"fallback": "local"},
                'folders."calls"': {
                    "backend": "openai",
                    "vocabulary": [f"Term{i:02}" * 5 for i in range(30)],
                },
                'folders."plain"': {"backend": "octoai", "vocabulary": []},
            },
        )
    )
    said: list[str] = []
    check_words(settings, said.append)
    ignored = [line for line in said if "ignores" in line]
    assert ignored == [
        "transcribe.vocabulary: the octoai backend ignores the vocabulary and prompt (its "
        "protocol has no field for them); choose another backend for this folder to use them"
    ]
    assert any(line.startswith("transcribe.vocabulary: 1 term; local takes them") for line in said)
    assert any('folders."calls".vocabulary: 30 terms; openai takes them' in line for line in said)
    assert any(
        line.startswith('folders."calls".vocabulary: 30 terms, about ')
        and "Whisper reads at most 223 tokens" in line
        for line in said
    )
    assert not any("plain" in line for line in said)  # no words there: nothing to say
    hot = settings.model_copy(
        update={
            "backends": settings.backends.model_copy(
                update={
                    "local": settings.backends.local.model_copy(
                        update={"vocabulary_as": "hotwords"}
                    )
                }
            )
        }
    )
    said.clear()
    check_words(hot, said.append)
    assert any("local takes them as faster-whisper hotwords" in line for line in said)


def test_the_local_engine_is_sent_the_words_from_the_configuration(workdir: Path) -> None:
    """``dropscribe transcribe`` with the real local engine in its worker process: the terms
    go from the settings through the request into the worker's decode (tiny.en writes
    none of them right without; test_every_part_... shows that)."""
    (workdir / "terms.txt").write_text("\n".join(TERMS) + "\n")
    config = write_config(
        workdir, {"transcribe": {"vocabulary": "terms.txt", "formats": ["json", "md"]}}
    )
    out = workdir / "out"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "dropscribe", "transcribe", str(AUDIO / "terms.wav")),
            *("--out", str(out), "--config", str(config)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = (out / "terms.md").read_text()
    # Without the words none of the four is right; with them at least three (Kubernetes
    # comes and goes on this short clip: bench/README.md has the figures over many).
    assert len(set(spelt_right(text))) >= 3, text


def test_the_engine_writes_a_near_miss_left_after_decoding_as_the_term(engine: Engine) -> None:
    audio = decode_file(AUDIO / "terms.wav", 600).samples
    # The post-pass alone, the terms not in the prompt, so that the decode has near misses
    # on any CPU ("Northland" for Norland; with the terms in the prompt one machine wrote
    # "dashwood" and another "Dashwood", leaving nothing to respell).
    job = Job(1, "terms", "en", "transcribe", 600, prompt="Notes.", term_list=TERMS)
    options = engine.options
    try:
        engine.options = dataclasses.replace(options, respell_terms=False)
        plain, _ = engine.transcribe(job, audio, 1, lambda _seconds: None)
        engine.options = dataclasses.replace(options, respell_terms=True)
        respelled, _ = engine.transcribe(job, audio, 1, lambda _seconds: None)
    finally:
        engine.options = options
    # The same decode, then the post-pass and nothing else: each changed word is a term
    # as written, over the times of what it replaced.
    assert respelled.segments == respell(plain.segments, TERMS)
    before = [w for s in plain.segments for w in s["words"]]
    after = [w for s in respelled.segments for w in s["words"]]
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed, plain.text
    for old, new in changed:
        assert new["word"].strip(".,") in TERMS
        assert (new["start"], new["end"]) == (old["start"], old["end"])


def test_the_terms_go_in_the_initial_prompt_unless_hotwords_are_asked_for(engine: Engine) -> None:
    job = Job(1, "x", "en", "transcribe", 600, terms="Dashwood. Norland.", prompt="A novel.")
    bare = Job(2, "x", "en", "transcribe", 600)
    options = engine.options
    try:
        assert engine._decode_options(job)["initial_prompt"] == "A novel. Dashwood. Norland."
        assert engine._decode_options(job)["hotwords"] is None
        engine.options = dataclasses.replace(options, initial_prompt="Engine wide.")
        assert engine._decode_options(bare)["initial_prompt"] == "Engine wide."
        engine.options = dataclasses.replace(options, vocabulary_as="hotwords")
        chosen = engine._decode_options(job)
        assert (chosen["initial_prompt"], chosen["hotwords"]) == ("A novel.", "Dashwood. Norland.")
    finally:
        engine.options = options
