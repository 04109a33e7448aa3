"""The numpy voice encoder against Resemblyzer's own (PyTorch + librosa), once.

Two halves, because the project must not depend on PyTorch or librosa:

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 librosa
    /tmp/refvenv/bin/pip install --no-deps Resemblyzer==0.1.4
    PYTHONPATH=. /tmp/refvenv/bin/python -m bench.reference.encoder reference /tmp/ref.npz
    .venv/bin/python -m bench.reference.encoder compare /tmp/ref.npz

The first half writes the reference's mel frames and voice vectors for
windows of 160 frames every 75 on real clips; the second computes both with
dropscribe.speakers and prints the worst cosine between the vectors.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from bench.harness import SHARED_AUDIO

CLIPS = [
    SHARED_AUDIO / "jfk.wav",
    SHARED_AUDIO / "librivox" / "sense_and_sensibility_01_austen_64kb-0870.wav",
    SHARED_AUDIO / "vosk_test.wav",
]


def windows(mel: Any) -> Any:
    return np.array([mel[i : i + 160] for i in range(0, len(mel) - 160, 75)], dtype=np.float32)


def reference(out: str) -> None:
    import librosa
    import torch

    sys.modules.setdefault("webrtcvad", type(sys)("webrtcvad"))  # only its trimming needs it
    from resemblyzer import VoiceEncoder, audio

    encoder = VoiceEncoder(device="cpu", verbose=False)
    saved: dict[str, Any] = {}
    for number, path in enumerate(CLIPS):
        wav, _ = librosa.load(str(path), sr=16000)
        mel = audio.wav_to_mel_spectrogram(wav)
        with torch.no_grad():
            vectors = encoder(torch.from_numpy(windows(mel))).numpy()
        saved |= {f"wav{number}": wav, f"mel{number}": mel, f"vec{number}": vectors}
    np.savez(out, **saved)
    print(f"librosa {librosa.__version__}, torch {torch.__version__}")


def compare(saved_path: str) -> None:
    from dropscribe.speakers.encoder import VoiceEncoder
    from dropscribe.speakers.features import mel_frames

    encoder = VoiceEncoder.load()
    saved = np.load(saved_path)
    worst, worst_mel = 1.0, 0.0
    for number, path in enumerate(CLIPS):
        mel = mel_frames(saved[f"wav{number}"])
        ref_mel = saved[f"mel{number}"]
        worst_mel = max(worst_mel, float(np.abs(mel - ref_mel).max() / np.abs(ref_mel).max()))
        cosines = (encoder.embed(windows(mel)) * saved[f"vec{number}"]).sum(axis=1)
        worst = min(worst, float(cosines.min()))
        print(f"{path.name}: {len(cosines)} windows, lowest cosine {cosines.min():.7f}")
    print(f"worst mel difference (relative to the peak) {worst_mel:.1e}; worst cosine {worst:.7f}")


if __name__ == "__main__":
    {"reference": reference, "compare": compare}[sys.argv[1]](sys.argv[2])
