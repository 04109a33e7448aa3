"""The systemd notify protocol with the standard library; a no-op outside systemd."""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` and ``STOPPING=1`` datagrams."""

    def __init__(self, address: str | None = None, watchdog_usec: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self.address: str | None = address or None
        if self.address and self.address.startswith("@"):
            # An abstract socket: the leading '@' stands for a NUL byte.
            self.address = "\0" + self.address[1:]
        usec = watchdog_usec if watchdog_usec is not None else os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        owned = pid is None or pid == str(os.getpid())
        #: Seconds between watchdog pings: half of what systemd allows.
        self.watchdog_interval: float | None = (
            int(usec) / 2e6 if usec and usec.isdigit() and int(usec) > 0 and owned else None
        )
        self._socket: socket.socket | None = None
        if self.address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never wait for the reader: a notify socket whose queue is full (a reader
            # that stopped reading) would otherwise stall the main loop in sendto.
            self._socket.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *fields: str) -> bool:
        """Send ``fields`` as one datagram; return False when it could not be sent."""
        if self._socket is None or self.address is None:
            return False
        try:
            self._socket.sendto("\n".join(fields).encode(), self.address)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def ping(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
