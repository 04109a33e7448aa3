"""Issue 27: names and terms spelt right with a vocabulary, and no worse on the rest.

Real speech (the LibriVox clips and JFK of the real recordings) joined with
sentences espeak-ng says with names and jargon tiny.en gets wrong (Dashwood,
Norland, Kubernetes, dropscribe, Willoughby, Syncthing), in six voices. The
daemon's own engine (in this process, its decoding plan as for a file alone)
transcribes each corpus without words and with them given several ways. The
figures: the share of the terms written right (aligned to the reference),
the word error rate on the real speech, and on the rest of the spoken
sentences.

Run: .venv/bin/python -m bench.vocabulary [--smoke] [--sequential]

``--sequential`` decodes the longest file in one sequential decode
(``batched = "off"``), where an initial prompt primes only the first 30 s
window and hotwords reach every window.

The terms go to faster-whisper as dropscribe sends them: in the initial
prompt (``vocabulary_as = "prompt"``, the default, and what every remote
engine gets) or as hotwords (``vocabulary_as = "hotwords"``).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from bench.batched import SAMPLE_RATE, Engine, load
from bench.harness import FIXTURE_AUDIO, HAVE_SHARED_AUDIO, REPO, clip_path, machine, report

TERMS = ("Dashwood", "Norland", "Kubernetes", "dropscribe", "Willoughby", "Syncthing")
SENTENCES = (
    "Elinor Dashwood walked from Norland Park to the village.",
    "We deploy dropscribe on Kubernetes every Monday morning.",
    "The Dashwood family left Norland in the autumn.",
    "Our Kubernetes cluster runs dropscribe for the clinic.",
    "Marianne Dashwood never liked Norland in the winter.",
    "Install dropscribe and point it at the Kubernetes volume.",
    "Willoughby sent the letter through Syncthing last night.",
    "Colonel Brandon met Willoughby at Norland.",
    "The Syncthing folder feeds dropscribe with new recordings.",
    "Mrs Dashwood thought Kubernetes was a kind of flower.",
)
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-us", "en-gb-x-rp", "en-029")
REAL = [
    *(f"sense_and_sensibility_01_austen_64kb-0{n}.wav" for n in (870, 880, 890, 920, 930)),
    "jfk.wav",
]
OUT = REPO / "bench" / "results" / "vocabulary"
GAP_SECONDS = 0.8

#: How the words reach faster-whisper: the terms (``terms``), given as ``as`` says, after
#: a prompt (``prompt``).
DOTS = " ".join(term + "." for term in TERMS)
WAYS: dict[str, dict[str, str]] = {
    "no vocabulary": {},
    "as initial prompt (the default; what remote engines get)": {"terms": DOTS, "as": "prompt"},
    "as hotwords": {"terms": DOTS, "as": "hotwords"},
    "both at once": {"terms": DOTS, "as": "hotwords", "prompt": DOTS},
    "hotwords as a comma list": {"terms": ", ".join(TERMS), "as": "hotwords"},
}


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def spoken(index: int) -> Path:
    """The sentence ``index`` said by espeak-ng, 16 kHz mono (made once)."""
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"sentence_{index}.wav"
    if not target.exists():
        raw = OUT / f"sentence_{index}.raw.wav"
        voice = VOICES[index % len(VOICES)]
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), SENTENCES[index]], check=True
        )
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(target)], check=True
        )
        raw.unlink()
    return target


@dataclasses.dataclass
class Corpus:
    name: str
    pieces: list[tuple[Any, list[str], str]]  # audio, reference words, "real" or "said"

    def audio(self) -> Any:
        gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
        return np.concatenate([part for audio, _, _ in self.pieces for part in (audio, gap)])

    def reference(self) -> tuple[list[str], list[str]]:
        """The reference words and each one's kind: "term", "real" or "said"."""
        ref, kinds = [], []
        terms = {term.lower() for term in TERMS}
        for _, text, kind in self.pieces:
            ref += text
            kinds += ["term" if word in terms else kind for word in text]
        return ref, kinds


def real_piece(name: str) -> tuple[Any, list[str], str]:
    from bench.harness import reference_text

    return load(clip_path(name)), words(reference_text(name) or ""), "real"


def said_piece(index: int) -> tuple[Any, list[str], str]:
    return load(spoken(index)), words(SENTENCES[index]), "said"


def corpora(smoke: bool) -> list[Corpus]:
    if smoke or not HAVE_SHARED_AUDIO:
        fox = FIXTURE_AUDIO / "fox.wav"
        terms = FIXTURE_AUDIO / "terms.wav"
        pieces = [
            (load(fox), words(fox.with_suffix(".txt").read_text()), "real"),
            (load(terms), words(terms.with_suffix(".txt").read_text()), "said"),
        ]
        return [Corpus("fixtures (smoke)", pieces)]
    order = [("r", 0), ("s", 0), ("s", 1), ("r", 1), ("s", 2), ("s", 3), ("r", 2), ("s", 4)]
    order += [("s", 5), ("r", 5), ("s", 6), ("s", 7), ("r", 3), ("s", 8), ("s", 9), ("r", 4)]

    def piece(kind: str, index: int) -> tuple[Any, list[str], str]:
        return real_piece(REAL[index]) if kind == "r" else said_piece(index)

    short = [
        Corpus(f"short {i + 1}", [piece(*item) for item in order[3 * i : 3 * i + 3]])
        for i in range(5)
    ]
    long = Corpus("83 s, one file", [piece(*item) for item in order])
    longer = Corpus("167 s, one file", [piece(*item) for item in order + order[::-1]])
    return [*short, long, longer]


def score(corpus: Corpus, hypothesis: str) -> dict[str, int]:
    """Errors by kind of reference word (insertions count where they fall), and counts."""
    ref, kinds = corpus.reference()
    aligned = jiwer.process_words(" ".join(ref), " ".join(words(hypothesis)) or "-")
    errors = {"term": 0, "real": 0, "said": 0}
    for chunk in aligned.alignments[0]:
        if chunk.type == "equal":
            continue
        if chunk.type == "insert":
            kind = kinds[min(chunk.ref_start_idx, len(kinds) - 1)]
            errors["said" if kind == "term" else kind] += chunk.hyp_end_idx - chunk.hyp_start_idx
            continue
        for index in range(chunk.ref_start_idx, chunk.ref_end_idx):
            errors[kinds[index]] += 1
    counts = {f"n_{kind}": kinds.count(kind) for kind in errors}
    return {**errors, **counts}


def run(
    engine: Engine, corpus: Corpus, way: dict[str, str], mode: str = "auto"
) -> tuple[dict[str, int], float, str]:
    from dropscribe.backends.local.protocol import Job

    engine.engine.options = dataclasses.replace(
        engine.options, batched=mode, vocabulary_as=way.get("as", "prompt")
    )
    job = Job(1, "bench", "en", "transcribe", 1e9, terms=way.get("terms"), prompt=way.get("prompt"))
    started = time.process_time()
    result, decoding = engine.engine.transcribe(
        job, corpus.audio(), engine.engine.parallel, lambda _s: None
    )
    return score(corpus, result.text), time.process_time() - started, decoding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--sequential", action="store_true")
    args = parser.parse_args()
    engine = Engine()
    groups: dict[str, list[Corpus]] = {}
    chosen = corpora(args.smoke)
    mode = "off" if args.sequential else "auto"
    if args.sequential:
        chosen = chosen[-1:]
    for corpus in chosen:
        groups.setdefault(
            corpus.name.split(" ")[0] if corpus.name.startswith("short") else corpus.name, []
        ).append(corpus)
    rows: dict[str, Any] = {"machine": machine(), "model": "tiny.en int8, beam 5, language en"}
    ways = dict(list(WAYS.items())[: 2 if args.smoke else 3 if args.sequential else 5])
    for group, members in groups.items():
        for label, way in ways.items():
            total = {"term": 0, "real": 0, "said": 0, "n_term": 0, "n_real": 0, "n_said": 0}
            cpu, decodings = 0.0, set()
            for corpus in members:
                found, seconds, decoding = run(engine, corpus, way, mode)
                total = {key: total[key] + found[key] for key in total}
                cpu += seconds
                decodings.add(decoding)
            right = total["n_term"] - total["term"]
            rows[f"{group} | {label}"] = (
                f"terms right {right}/{total['n_term']} ({right / max(1, total['n_term']):.0%}), "
                f"WER real speech {total['real'] / max(1, total['n_real']):.3f}, "
                f"WER rest of the said sentences {total['said'] / max(1, total['n_said']):.3f}, "
                f"decoding {'/'.join(sorted(decodings))}, CPU {cpu:.1f} s"
            )
    report("Vocabulary: terms right, and the rest", rows)


if __name__ == "__main__":
    main()
