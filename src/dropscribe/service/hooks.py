"""Commands run after each transcript (``on_done``) or failure (``on_failed``).

The paths are passed as arguments, never through a shell, so a file name can
never become a command. Hooks run in the background; one that outlives its
timeout is killed.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import structlog

log = structlog.get_logger("dropscribe.service.hooks")


class Hooks:
    def __init__(self, on_done: list[str], on_failed: list[str], timeout: float) -> None:
        self.on_done = on_done
        self.on_failed = on_failed
        self.timeout = timeout

    def done(self, source: Path | None, sidecars: list[Path]) -> None:
        if self.on_done:
            self._start(self.on_done, [str(source or ""), *map(str, sidecars)])

    def failed(self, source: Path | None, error_sidecar: Path) -> None:
        if self.on_failed:
            self._start(self.on_failed, [str(source or ""), str(error_sidecar)])

    def _start(self, command: list[str], arguments: list[str]) -> None:
        threading.Thread(target=self._run, args=([*command, *arguments],), daemon=True).start()

    def _run(self, argv: list[str]) -> None:
        try:
            completed = subprocess.run(
                argv,
                timeout=self.timeout,
                capture_output=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            log.warning("hook_timed_out", command=argv[0], seconds=self.timeout)
        except OSError as exc:
            log.warning("hook_failed", command=argv[0], error=str(exc))
        else:
            if completed.returncode != 0:
                log.warning(
                    "hook_failed",
                    command=argv[0],
                    exit_code=completed.returncode,
                    stderr=completed.stderr.decode(errors="replace")[-500:],
                )
