"""``dropscribe check`` for the user's words: what each engine a folder reaches does with them."""

from __future__ import annotations

from collections.abc import Callable

from dropscribe.config import LocalSettings, Settings, Words

Say = Callable[[str], None]
#: Whisper reads at most this many tokens of a prompt (half its 448-token context, less one).
PROMPT_TOKENS = 223
#: Characters a token, about, in English text and names (the tokenizer lives in the engine).
CHARS_PER_TOKEN = 3.5


def places_with_words(settings: Settings) -> dict[str, tuple[str, Words]]:
    """Return, by the key that sets them, the words in force and the first backend."""
    transcribe = settings.transcribe
    places = {"transcribe": (transcribe.backend, settings.words_for("file"))}
    for folder in settings.folders:
        override = settings.folder_override(f"{folder}/file")
        places[f'folders."{folder}"'] = (
            override.backend or transcribe.backend,
            settings.words_for(f"{folder}/file"),
        )
    return {key: place for key, place in places.items() if place[1]}


def _words_use(settings: Settings, name: str) -> str | None:
    section = settings.backend_settings(name)
    if isinstance(section, LocalSettings) and section.vocabulary_as == "hotwords":
        return 'as faster-whisper hotwords in every 30 s window (vocabulary_as = "hotwords")'
    return section.words_use


def check_words(settings: Settings, say: Say) -> None:
    """Say, for each place with a vocabulary or prompt, how each engine it reaches uses them;
    an engine with no field for them is named (the words are then ignored, not an error)."""
    for key, (first, words) in places_with_words(settings).items():
        text = words.as_prompt() or ""
        tokens = round(len(text) / CHARS_PER_TOKEN)
        count = len(words.terms)
        summary = f"{count} term{'' if count == 1 else 's'}" + (
            ", a prompt" if words.prompt else ""
        )
        if tokens > PROMPT_TOKENS:
            say(
                f"{key}.vocabulary: {summary}, about {tokens} tokens: Whisper reads at most "
                f"{PROMPT_TOKENS} tokens of a prompt and drops the rest; keep the list short"
            )
        for name in settings.reachable_from(first):
            use = _words_use(settings, name)
            if use is None:
                say(
                    f"{key}.vocabulary: the {name} backend ignores the vocabulary and prompt "
                    "(its protocol has no field for them); choose another backend for this "
                    "folder to use them"
                )
            else:
                say(f"{key}.vocabulary: {summary}; {name} takes them {use}")
