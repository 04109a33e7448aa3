"""Whisper's languages: servers answer with a code ("en") or a name ("english")."""

from __future__ import annotations

_TABLE = """
en english|zh chinese|de german|es spanish|ru russian|ko korean|fr french|ja japanese|
pt portuguese|tr turkish|pl polish|ca catalan|nl dutch|ar arabic|sv swedish|it italian|
id indonesian|hi hindi|fi finnish|vi vietnamese|he hebrew|uk ukrainian|el greek|ms malay|
cs czech|ro romanian|da danish|hu hungarian|ta tamil|no norwegian|th thai|ur urdu|
hr croatian|bg bulgarian|lt lithuanian|la latin|mi maori|ml malayalam|cy welsh|sk slovak|
te telugu|fa persian|lv latvian|bn bengali|sr serbian|az azerbaijani|sl slovenian|
kn kannada|et estonian|mk macedonian|br breton|eu basque|is icelandic|hy armenian|
ne nepali|mn mongolian|bs bosnian|kk kazakh|sq albanian|sw swahili|gl galician|
mr marathi|pa punjabi|si sinhala|km khmer|sn shona|yo yoruba|so somali|af afrikaans|
oc occitan|ka georgian|be belarusian|tg tajik|sd sindhi|gu gujarati|am amharic|
yi yiddish|lo lao|uz uzbek|fo faroese|ht haitian creole|ps pashto|tk turkmen|
nn nynorsk|mt maltese|sa sanskrit|lb luxembourgish|my myanmar|bo tibetan|tl tagalog|
mg malagasy|as assamese|tt tatar|haw hawaiian|ln lingala|ha hausa|ba bashkir|
jw javanese|su sundanese|yue cantonese
"""

NAME_TO_CODE = {
    name: code
    for code, name in (
        entry.strip().split(" ", 1) for entry in _TABLE.replace("\n", "").split("|") if entry
    )
}
CODES = frozenset(NAME_TO_CODE.values())
# Names servers use besides Whisper's own.
NAME_TO_CODE.update(
    {
        "burmese": "my",
        "castilian": "es",
        "flemish": "nl",
        "haitian": "ht",
        "letzeburgesch": "lb",
        "moldavian": "ro",
        "moldovan": "ro",
        "panjabi": "pa",
        "pushto": "ps",
        "sinhalese": "si",
        "valencian": "ca",
        "mandarin": "zh",
        "javanese": "jw",
    }
)


def language_code(value: str | None) -> str | None:
    """Return the ISO code for a code or a name from any server; None when unknown."""
    if not value:
        return None
    lowered = value.strip().lower().replace("_", "-")
    if lowered in CODES:
        return lowered
    if lowered in NAME_TO_CODE:
        return NAME_TO_CODE[lowered]
    base = lowered.split("-")[0]  # "en-us" -> "en"
    return base if base in CODES else None


def english_only_refusal(model: str | None, task: str, language: str) -> str | None:
    """Return why an English-only model cannot do this job (one sentence), or None.

    ``language = "auto"`` means English with such a model.
    """
    if task == "translate":
        return (
            f"The model {model} only transcribes English and cannot translate; "
            'set task = "transcribe" or use a multilingual model such as "small".'
        )
    if language not in ("auto", "en"):
        return (
            f"The model {model} only knows English but language "
            f'"{language}" was asked for; use a multilingual model such as '
            '"small" for this folder.'
        )
    return None


def normalise_language(tag: str | None) -> str | None:
    """Return a language tag as its short code ("fre", "fra", "fr-FR" → "fr"), None if unknown.

    Containers use ISO 639-2 codes (both "fre" and "fra"), people write "fr";
    comparing the short codes makes them all match.
    """
    import langcodes

    if not tag or tag.lower() in ("und", "unknown", "mis", "mul", "zxx"):
        return None
    try:
        language = langcodes.get(tag).language
    except (ValueError, LookupError):
        return tag.lower()
    return language.lower() if language else None
