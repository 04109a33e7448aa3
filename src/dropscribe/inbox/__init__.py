"""Watching the inbox: which paths are candidates, when a file is stable, intake into the store."""
