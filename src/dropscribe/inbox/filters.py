"""Which paths in the inbox are candidates: the ignore rules and the extension allow-list."""

from __future__ import annotations

from fnmatch import fnmatchcase

#: Temporary names of uploaders, sync tools and office suites (DESIGN.md section 1).
IGNORED_NAMES = ("*.part", "*.crdownload", "*.tmp", "~$*", "Thumbs.db", "desktop.ini")
#: Folders that belong to NAS indexers and sync tools.
IGNORED_FOLDERS = ("@eaDir", "#recycle", "$RECYCLE.BIN", "lost+found")


class InboxFilter:
    """Decides from a path relative to the inbox whether it may hold a recording: the
    one classification of inbox paths, asked by scans and by file events alike.

    Hidden names (``.DS_Store``, ``.~lock*``, ``.stfolder/``, ``.sync/``,
    ``.dropbox*``, rsync's ``.name.XXXX``) are ignored at any depth.
    """

    def __init__(self, extensions: list[str], extra_patterns: list[str] | None = None) -> None:
        self.extensions = frozenset(ext.lower() for ext in extensions)
        self.patterns = IGNORED_NAMES + tuple(extra_patterns or ())

    def ignores_folder(self, name: str) -> bool:
        return name.startswith(".") or name in IGNORED_FOLDERS

    def has_audio_extension(self, name: str) -> bool:
        _, dot, extension = name.rpartition(".")
        return bool(dot) and extension.lower() in self.extensions

    def __call__(self, relative_path: str) -> bool:
        """Return True when ``relative_path`` should be considered (whatever its type:
        a folder or link with an audio name is considered, to be refused clearly)."""
        *folders, name = relative_path.split("/")
        if any(self.ignores_folder(folder) for folder in folders):
            return False
        if name.startswith(".") or any(fnmatchcase(name, p) for p in self.patterns):
            return False
        return self.has_audio_extension(name)
