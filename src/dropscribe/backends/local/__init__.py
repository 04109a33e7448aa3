"""The embedded engine: faster-whisper in worker processes."""
