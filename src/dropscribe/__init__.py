"""dropscribe: drop a recording into a folder, its transcript appears in another."""

__version__ = "0.1.0"
