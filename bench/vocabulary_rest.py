"""Issue 27, the rest: what the vocabulary does to the words that are not terms.

Utterances of three kinds, shuffled into files (each seed another order and
other neighbours), every file decoded by the daemon's own engine as a worker
decodes a file alone, once per way of giving the words:

- **terms**: sentences espeak-ng says with names and jargon tiny.en gets
  wrong; the six terms of ``bench.vocabulary`` (the ones the formats were
  first tried on) and six more, held out, that nothing here was tuned on;
- **real**: every English real recording, each at its own
  speed and slowed and sped up by 10 % (sox ``tempo``: the same voice,
  other sounds for the decoder);
- **plain**: term-free sentences of the synthetic reading
  (``make_long_reading.sh``), in six voices.

Errors are counted per utterance (the file's transcript aligned to its
reference; an insertion counts where it falls), and each way is compared
with no vocabulary utterance by utterance: how many got worse and better, a
two-sided sign test, and a bootstrap interval of the change in errors.

Run: .venv/bin/python -m bench.vocabulary_rest [--seeds 2] [--long] [--smoke]

``--long``: files of about 90 s (decoded in parts) instead of under 30 s (one
window each).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import random
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

from bench import vocabulary as first
from bench.batched import SAMPLE_RATE, Engine, load
from bench.coverage import VOSK
from bench.coverage import words as numbered
from bench.harness import FIXTURE_AUDIO, HAVE_SHARED_AUDIO, REPO, clip_path, machine, report
from bench.harness import reference_text as shared_reference
from dropscribe.transcript.respelling import respell

OUT = REPO / "bench" / "results" / "vocabulary_rest"
HELD_TERMS = ("Ferrars", "Delaford", "Grafana", "Tailscale", "Nextcloud", "Jellyfin")
HELD_SENTENCES = (
    "Edward Ferrars rode over to Delaford on Sunday.",
    "We watch the cluster on Grafana every morning.",
    "The laptop joins the office network through Tailscale.",
    "Colonel Brandon keeps the letters from Delaford in Nextcloud.",
    "Jellyfin plays the recordings that Nextcloud stores.",
    "Mr Ferrars never understood Grafana.",
    "Tailscale and Jellyfin run on the same small server.",
)
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
REAL = (
    *(f"sense_and_sensibility_01_austen_64kb-0{n}.wav" for n in (870, 880, 890, 920, 930)),
    "jfk.wav",
    "vosk_test.wav",
    "goforward.wav",
    "speechrecognition_english.wav",
)
TEMPI = (0.9, 1.0, 1.1)
PLAIN_SENTENCES = 24
GAP_SECONDS = 0.8


def tokens(text: str) -> list[str]:
    """Lower case, no punctuation, digits for number words, hyphens as spaces."""
    return numbered(text.replace("-", " ")).split()


def one_by_one(words: Sequence[str]) -> list[str]:
    """The words with every number written digit by digit: "90210", "9-0-2-1-0" and
    "nine oh two one oh" are then the same five words. Strict scoring counts a grouped
    "90210" against the spoken digits as five errors, a matter of how a number is
    written; this scoring counts only the digits heard wrong."""
    return [digit for word in words for digit in (list(word) if word.isdigit() else [word])]


@dataclasses.dataclass
class Utterance:
    name: str
    kind: str  # "terms", "held" (held-out terms), "real" or "plain"
    audio: Any
    reference: list[str]
    terms: frozenset[str]  # the reference words that are terms (lower case)


def said(text: str, voice: str, name: str) -> Any:
    """``text`` said by espeak-ng in ``voice``, 16 kHz mono (made once)."""
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{name}.wav"
    if not target.exists():
        raw = OUT / f"{name}.raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(target)], check=True
        )
        raw.unlink()
    return load(target)


def at_tempo(name: str, tempo: float) -> Any:
    """A shared recording slowed or sped up, pitch kept (made once)."""
    if tempo == 1.0:
        return load(clip_path(name))
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{Path(name).stem}.tempo{tempo}.wav"
    if not target.exists():
        source = str(clip_path(name))
        command = ["sox", source, "-r", "16000", "-c", "1", "-b", "16", str(target)]
        subprocess.run([*command, "tempo", "-s", str(tempo)], check=True)
    return load(target)


def plain_sentences() -> list[str]:
    """The synthetic reading's sentences (the text make_long_reading.sh says)."""
    script = (REPO / "bench" / "make_long_reading.sh").read_text()
    text = script.split("<<'TEXT'\n", 1)[1].split("\nTEXT\n", 1)[0]
    return re.split(r"(?<=\.) ", " ".join(text.split()))


def term_utterances(sentences: Sequence[str], terms: Sequence[str], kind: str) -> list[Utterance]:
    lowered = frozenset(term.lower() for term in terms)
    return [
        Utterance(
            f"{kind}{i}", kind, said(s, VOICES[i % len(VOICES)], f"{kind}{i}"), tokens(s), lowered
        )
        for i, s in enumerate(sentences)
    ]


def utterances(smoke: bool) -> list[Utterance]:
    if smoke or not HAVE_SHARED_AUDIO:
        fox, terms = FIXTURE_AUDIO / "fox.wav", FIXTURE_AUDIO / "terms.wav"
        lowered = frozenset(term.lower() for term in first.TERMS)
        return [
            Utterance(
                "fox", "real", load(fox), tokens(fox.with_suffix(".txt").read_text()), frozenset()
            ),
            Utterance(
                "terms",
                "terms",
                load(terms),
                tokens(terms.with_suffix(".txt").read_text()),
                lowered,
            ),
        ]
    found = term_utterances(first.SENTENCES, first.TERMS, "terms")
    found += term_utterances(HELD_SENTENCES, HELD_TERMS, "held")
    for name in REAL:
        text = VOSK if name.startswith("vosk") else shared_reference(name) or ""
        for tempo in TEMPI:
            found.append(
                Utterance(
                    f"{Path(name).stem}@{tempo}",
                    "real",
                    at_tempo(name, tempo),
                    tokens(text),
                    frozenset(),
                )
            )
    for i, sentence in enumerate(plain_sentences()[:PLAIN_SENTENCES]):
        voice = VOICES[(i + 3) % len(VOICES)]
        found.append(
            Utterance(
                f"plain{i}",
                "plain",
                said(sentence, voice, f"plain{i}"),
                tokens(sentence),
                frozenset(),
            )
        )
    return found


def files(pieces: Sequence[Utterance], seed: int, longest: float) -> list[list[Utterance]]:
    """``pieces`` shuffled and packed into files of at most ``longest`` seconds."""
    order = list(pieces)
    random.Random(seed).shuffle(order)
    packed: list[list[Utterance]] = [[]]
    length = 0.0
    for piece in order:
        seconds = len(piece.audio) / SAMPLE_RATE + GAP_SECONDS
        if packed[-1] and length + seconds > longest:
            packed.append([])
            length = 0.0
        packed[-1].append(piece)
        length += seconds
    return packed


def joined(pieces: Sequence[Utterance]) -> Any:
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([part for piece in pieces for part in (piece.audio, gap)])


#: Names and jargon nobody says here: a long list, as a folder may keep one.
UNSAID = (
    "Palmer", "Jennings", "Middleton", "Barton", "Cleveland", "Allenham", "Steele",
    "Terraform", "Ansible", "Nginx", "Traefik", "Mastodon", "Wireguard", "Proxmox",
    "Zigbee", "Kotlin", "Svelte", "Django", "Pydantic", "Postgres", "Redis", "Kafka",
    "Elasticsearch", "Jupyter", "Ollama", "Prometheus", "Matrix", "Home Assistant",
)  # fmt: skip


def dots(terms: Sequence[str]) -> str:
    """What dropscribe sends (Words.terms_text): "Dashwood. Norland." """
    return " ".join(term + "." for term in terms)


def commas(terms: Sequence[str]) -> str:
    return ", ".join(terms) + "."


def glossary(terms: Sequence[str]) -> str:
    return "Glossary: " + ", ".join(terms) + "."


def sentence(terms: Sequence[str]) -> str:
    return "We talk about " + ", ".join(terms[:-1]) + " and " + terms[-1] + "."


def reversed_dots(terms: Sequence[str]) -> str:
    return dots(list(reversed(terms)))


@dataclasses.dataclass(frozen=True)
class Way:
    """One way of giving the words; ``decode`` names the decode it reads."""

    label: str
    text: Callable[[Sequence[str]], str] | None = None
    hotwords: bool = False
    long_list: bool = False
    #: The near-miss post-pass (transcript/respelling.py) on the transcript.
    respelled: bool = False
    #: Decode without the words; a file with a near miss is decoded again with them.
    gated: bool = False

    @property
    def decode(self) -> tuple[str, bool, bool]:
        name = self.text.__name__ if self.text else "none"
        return name, self.hotwords, self.long_list


FORMATS = (
    Way("no vocabulary"),
    Way("dots (dropscribe's: 'Dashwood. Norland.')", dots),
    Way("comma list", commas),
    Way("'Glossary: ...'", glossary),
    Way("a sentence ('We talk about ...')", sentence),
    Way("dots, reversed order", reversed_dots),
    Way("dots as hotwords", dots, hotwords=True),
    Way("dots, long list (+28 terms not said)", dots, long_list=True),
)
WAYS = (
    *FORMATS,
    *(dataclasses.replace(w, label=w.label + " + respelling", respelled=True) for w in FORMATS),
    Way(
        "gated: dots only where a near miss is found, + respelling",
        dots,
        respelled=True,
        gated=True,
    ),
)
#: The default and what it is weighed against (``--main``): no words, the words as
#: dropscribe sends them, with and without the post-pass, and the gated way.
MAIN_WAYS = (FORMATS[0], FORMATS[1], WAYS[len(FORMATS) + 1], WAYS[-1])
SMOKE_WAYS = MAIN_WAYS


@dataclasses.dataclass
class Counted:
    """Errors of one utterance: on its terms, and on its other words."""

    term_errors: int = 0
    terms: int = 0
    errors: int = 0
    words: int = 0


def score(pieces: Sequence[Utterance], hypothesis: str, digits: bool = False) -> dict[str, Counted]:
    """Errors per utterance of a file's transcript (an insertion counts where it falls);
    ``digits``: numbers compared digit by digit (one_by_one), on both sides."""
    spell: Callable[[list[str]], list[str]] = one_by_one if digits else list
    reference, owner, is_term = [], [], []
    counted = {}
    for piece in pieces:
        words = spell(piece.reference)
        term = [word in piece.terms for word in words]
        counted[piece.name] = Counted(0, sum(term), 0, len(term) - sum(term))
        reference += words
        owner += [piece.name] * len(words)
        is_term += term
    heard = spell(tokens(hypothesis))
    aligned = jiwer.process_words(" ".join(reference), " ".join(heard) or "-")
    for chunk in aligned.alignments[0]:
        if chunk.type == "insert":
            at = owner[max(0, min(chunk.ref_start_idx, len(owner)) - 1)]
            counted[at].errors += chunk.hyp_end_idx - chunk.hyp_start_idx
        elif chunk.type != "equal":
            for index in range(chunk.ref_start_idx, chunk.ref_end_idx):
                if is_term[index]:
                    counted[owner[index]].term_errors += 1
                else:
                    counted[owner[index]].errors += 1
    return counted


def vocabulary(long_list: bool) -> list[str]:
    terms = [*first.TERMS, *HELD_TERMS]
    return [*terms, *UNSAID] if long_list else terms


class Decoder:
    """The engine, and each file's decodes, made once per way of giving the words."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.done: dict[tuple[int, tuple[str, bool, bool]], list[Any]] = {}
        #: Every change the post-pass made, over the ways that use it (not gated).
        self.changed: list[str] = []

    def segments(self, key: int, audio: Any, way: Way) -> list[Any]:
        from dropscribe.backends.local.protocol import Job

        found = self.done.get((key, way.decode))
        if found is not None:
            return found
        terms = way.text(vocabulary(way.long_list)) if way.text else None
        local = self.engine
        # The post-pass is the engine's (respell_terms); here it is applied apart, so
        # that one decode gives the figures with and without it.
        local.engine.options = dataclasses.replace(
            local.options,
            batched="auto",
            vocabulary_as="hotwords" if way.hotwords else "prompt",
            respell_terms=False,
        )
        job = Job(1, "bench", "en", "transcribe", 1e9, terms=terms)
        result, _ = local.engine.transcribe(job, audio, local.engine.parallel, lambda _s: None)
        self.done[(key, way.decode)] = result.segments
        return result.segments

    def transcript(self, key: int, audio: Any, way: Way) -> str:
        terms = vocabulary(way.long_list)
        if way.gated:
            plain = self.segments(key, audio, Way("none"))
            if respell(plain, terms) == plain:
                return "".join(s["text"] for s in plain)
        segments = self.segments(key, audio, way)
        if way.respelled:
            before = "".join(s["text"] for s in segments)
            segments = respell(segments, terms)
            if not way.gated:
                self.changed += changes(before, "".join(s["text"] for s in segments))
        return "".join(s["text"] for s in segments)


def changes(before: str, after: str) -> list[str]:
    """What the post-pass wrote differently ("next cloud -> Nextcloud"), to read which
    words it touched."""
    old, new = before.split(), after.split()
    found = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag != "equal":
            found.append(f"{' '.join(old[i1:i2])} -> {' '.join(new[j1:j2])}")
    return found


def sign_test(worse: int, better: int) -> float:
    """Two-sided sign test: the chance of a split this uneven if neither way were better."""
    n = worse + better
    if n == 0:
        return 1.0
    tail: float = sum(math.comb(n, i) for i in range(min(worse, better) + 1)) / 2**n
    return min(1.0, 2 * tail)


def interval(deltas: Sequence[int], rounds: int = 4000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the summed change, utterances resampled."""
    pick = random.Random(0)
    sums = sorted(sum(pick.choices(deltas, k=len(deltas))) for _ in range(rounds))
    return sums[int(0.025 * rounds)], sums[int(0.975 * rounds)]


Results = dict[tuple[int, str], Counted]  # (seed, utterance) -> its errors
#: The two scorings, both reported: words as written, and numbers digit by digit.
SCORINGS = {False: "strict", True: "digits one by one"}


def rest_row(results: Results, baseline: Results, kinds: dict[str, str]) -> str:
    """The rest (real and plain utterances): errors, and the change against no words."""
    rest = [key for key in results if kinds[key[1]] in ("real", "plain")]
    errors = sum(results[key].errors for key in rest)
    words = sum(results[key].words for key in rest)
    deltas = [results[key].errors - baseline[key].errors for key in rest]
    worse, better = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
    low, high = interval(deltas)
    seeds = sorted({seed for seed, _ in rest})
    per_seed = ", ".join(
        str(sum(results[key].errors for key in rest if key[0] == seed)) for seed in seeds
    )
    # vosk_test is a digit string: how it is grouped ("90210" or "9 0 2 1 0") is a matter
    # of style that strict scoring magnifies; its errors and the rest without it, apart.
    digit_string = [key for key in rest if key[1].startswith("vosk")]
    words_only = [key for key in rest if key not in digit_string]
    return (
        f"rest {errors}/{words} errors (WER {errors / max(1, words):.3f}; per seed {per_seed}), "
        f"change {sum(deltas):+d} [95 % {low:+.0f} to {high:+.0f}], "
        f"utterances worse {worse} better {better} of {len(rest)} "
        f"(sign test p {sign_test(worse, better):.2f}); "
        f"the digit string {_errors(results, baseline, digit_string)}, "
        f"the rest without it {_errors(results, baseline, words_only)}"
    )


def _errors(results: Results, baseline: Results, keys: Sequence[tuple[int, str]]) -> str:
    errors = sum(results[key].errors for key in keys)
    change = errors - sum(baseline[key].errors for key in keys)
    return f"{errors}/{sum(results[key].words for key in keys)} (change {change:+d})"


def terms_row(results: Results, kinds: dict[str, str]) -> str:
    parts = []
    for kind in ("terms", "held"):
        keys = [key for key in results if kinds[key[1]] == kind]
        total = sum(results[key].terms for key in keys)
        right = total - sum(results[key].term_errors for key in keys)
        around = sum(results[key].errors for key in keys)
        words = sum(results[key].words for key in keys)
        parts.append(f"{kind} right {right}/{total}, their other words {around}/{words} errors")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--long", action="store_true", help="files of about 90 s, in parts")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--main", action="store_true", help="only the default and its rivals")
    args = parser.parse_args()
    pieces = utterances(args.smoke)
    kinds = {piece.name: piece.kind for piece in pieces}
    decoder = Decoder()
    ways = SMOKE_WAYS if args.smoke else MAIN_WAYS if args.main else WAYS
    # Each transcript scored twice: strictly, and with numbers digit by digit.
    results: dict[tuple[str, bool], Results] = {
        (way.label, digits): {} for way in ways for digits in SCORINGS
    }
    key = 0
    seeds = range(args.first_seed, args.first_seed + (1 if args.smoke else args.seeds))
    for seed in seeds:
        for group in files(pieces, seed, 90.0 if args.long else 28.0):
            audio = joined(group)
            key += 1
            for way in ways:
                heard = decoder.transcript(key, audio, way)
                for digits in SCORINGS:
                    counted = score(group, heard, digits)
                    results[way.label, digits].update({(seed, n): c for n, c in counted.items()})
    rows: dict[str, Any] = {
        "machine": machine(),
        "model": "tiny.en int8, beam 5, language en, batched auto",
        "corpus": f"{len(pieces)} utterances, seeds {list(seeds)}, files "
        + ("about 90 s (parts)" if args.long else "under 30 s (one window)"),
    }
    for digits in SCORINGS:
        baseline = results[ways[0].label, digits]
        for way in ways:
            found = results[way.label, digits]
            label = f"{SCORINGS[digits]}: {way.label}"
            rows[label] = f"{terms_row(found, kinds)}; {rest_row(found, baseline, kinds)}"
    rows["the post-pass's changes"] = "; ".join(decoder.changed) or "none"
    report("Vocabulary: the rest, utterance by utterance", rows)


if __name__ == "__main__":
    main()
