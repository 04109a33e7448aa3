"""Audio handling shared by the engines: decoding untrusted media, and what follows it."""

#: Whisper's sample rate: every decoded recording is 16 kHz mono.
SAMPLE_RATE = 16000
