"""Commands run after each transcript (``on_done``) or failure (``on_failed``).

The paths are passed as arguments, never through a shell, so a file name can
never become a command. Hooks run in the background; one that outlives its
timeout is killed.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from dropscribe.config import ServiceSettings

log = structlog.get_logger("dropscribe.service.hooks")


@dataclass(frozen=True)
class HookCommands:
    """The hook commands and their timeout: one snapshot, read once per hook run."""

    on_done: tuple[str, ...] = ()
    on_failed: tuple[str, ...] = ()
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, service: ServiceSettings) -> HookCommands:
        return cls(tuple(service.on_done), tuple(service.on_failed), service.hook_timeout_seconds)


class Hooks:
    """Given the commands, it always runs those; given ``current`` instead, it asks it
    for the commands in force each time (the daemon, whose settings a reload swaps)."""

    def __init__(
        self,
        on_done: Sequence[str] = (),
        on_failed: Sequence[str] = (),
        timeout: float = 30.0,
        *,
        current: Callable[[], HookCommands] | None = None,
    ) -> None:
        fixed = HookCommands(tuple(on_done), tuple(on_failed), timeout)
        self.current: Callable[[], HookCommands] = current or (lambda: fixed)

    def done(self, source: Path | None, sidecars: list[Path]) -> None:
        commands = self.current()
        if commands.on_done:
            arguments = [str(source or ""), *map(str, sidecars)]
            self._start([*commands.on_done, *arguments], commands.timeout)

    def failed(self, source: Path | None, error_sidecar: Path) -> None:
        commands = self.current()
        if commands.on_failed:
            arguments = [str(source or ""), str(error_sidecar)]
            self._start([*commands.on_failed, *arguments], commands.timeout)

    def _start(self, argv: list[str], timeout: float) -> None:
        threading.Thread(target=self._run, args=(argv, timeout), daemon=True).start()

    def _run(self, argv: list[str], timeout: float) -> None:
        try:
            completed = subprocess.run(
                argv,
                timeout=timeout,
                capture_output=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            log.warning("hook_timed_out", command=argv[0], seconds=timeout)
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
