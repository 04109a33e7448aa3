"""Audio shared by the engines: decoding untrusted media, where to cut a recording, how to
join the parts."""

#: Whisper's sample rate: every decoded recording is 16 kHz mono.
SAMPLE_RATE = 16000
