"""dropscribe: drop a recording into a folder, its transcript appears in another."""

import os

__version__ = "0.1.0"

# onnxruntime (the voice detector's runtime) otherwise writes a device identifier and a
# telemetry database under $HOME/.cache/Microsoft/DeveloperTools: nothing may be written
# outside the configured folders. It reads this when first imported, so it is set here,
# before anything imports it; the engine's worker processes inherit it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
