"""HTTP for the remote backends: one client, errors translated at the boundary.

    connect refused, DNS, 401/403, health 5xx   -> ServerDown  (jobs wait; attempts kept)
    429                                          -> RateLimited (wait; never spends an attempt)
    timeouts, resets, 5xx, 408, an answer that
      does not arrive whole within the timeout   -> ServerTrouble (retried within a time budget)
    malformed JSON                               -> Retryable   (backoff; an attempt spent)
    JSON nested too deeply to read               -> Permanent   (it would be sent again)
    3xx (no redirect is followed)                -> Permanent   (naming where it pointed)
    404 / 410 on a future                        -> FutureGone  (submit again)
    other 4xx                                    -> Permanent   (the server's message kept)

Uploads are streamed; answers are read up to ``max_response_bytes`` and within
``timeout_seconds`` in all (a server trickling bytes is abandoned); ``NaN`` and
``Infinity`` in an answer read as null. Poll and result URLs are followed only
where :mod:`.hosts` trusts them. Every error scrubs our secrets as it is made
(:func:`dropscribe.errors.scrub`): a server may echo the token.
"""

from __future__ import annotations

import base64
import email.utils
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from dropscribe import __version__
from dropscribe.backends.remote import deadline
from dropscribe.backends.remote.hosts import HostPolicy
from dropscribe.config import RemoteSettings
from dropscribe.errors import (
    Permanent,
    RateLimited,
    Retryable,
    ServerDown,
    ServerTrouble,
    remember_secret,
)
from dropscribe.sources import Vanished, open_source, stat_source

#: Raw bytes read per step when encoding an upload: a multiple of 3, so base64 joins cleanly.
UPLOAD_CHUNK = 3 * 256 * 1024


#: The least a body hands to the socket at once (see CoalescedStream).
SEND_AT_LEAST = 64 * 1024


class CoalescedStream(httpx.SyncByteStream):
    """A request body handed to the socket in pieces of at least SEND_AT_LEAST bytes.

    httpx streams a multipart body field by field: a small upload went out as 22
    separate sends of 2 to 264 bytes, each a system call, a packet and a switch
    between threads (strace of the pipeline benchmark). Joining them keeps large
    uploads streamed (big pieces pass through untouched) and small ones whole.
    """

    def __init__(self, stream: Any, on_sent: Callable[[], None] | None = None) -> None:
        self.stream = stream
        #: Called once the whole body is out (the answer's deadline starts then).
        self.on_sent = on_sent

    def __iter__(self) -> Iterator[bytes]:
        pending: list[bytes] = []
        size = 0
        for piece in self.stream:
            if len(piece) >= SEND_AT_LEAST:
                if pending:
                    yield b"".join(pending)
                    pending, size = [], 0
                yield piece  # as it came: a large upload is never copied
                continue
            pending.append(piece)
            size += len(piece)
            if size >= SEND_AT_LEAST:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)
        if self.on_sent is not None:
            self.on_sent()

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


class ReportingReader:
    """A file whose reads are reported (bytes read = bytes handed to the upload)."""

    def __init__(self, stream: BinaryIO, on_read: Callable[[int], None] | None) -> None:
        self.stream = stream
        self.on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if data and self.on_read is not None:
            self.on_read(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class FutureGone(Exception):
    """The server does not know this future any more (404, 410, unknown or expired id)."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse ``Retry-After``: delay-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))


def _no_constant(name: str) -> None:
    """``NaN``, ``Infinity``, ``-Infinity``: not JSON; read as null (never written back)."""
    return None


def parse_json(body: bytes | str) -> Any:
    """Parse an answer strictly enough to write it again as JSON.

    Raises:
        ValueError: not JSON. RecursionError: nested too deeply to read.
    """
    return json.loads(body, parse_constant=_no_constant)


def server_message(body: bytes, reason: str = "") -> str:
    """Return the server's own error message, from JSON or plain text."""
    text = body.decode(errors="replace").strip()
    try:
        data = parse_json(text)
    except (ValueError, RecursionError):
        return text[:1000] or reason
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:1000]
    return text[:1000]


def base64_json_body(
    path: Path,
    before: bytes,
    after: bytes,
    prefix: bytes = b"",
    on_upload: Callable[[int], None] | None = None,
) -> tuple[Iterator[bytes], int]:
    """Return a JSON body ``before + base64(file) + after`` as chunks, and its length.

    The file is read and encoded a piece at a time, so memory does not grow
    with its size. ``prefix`` goes inside the string before the base64 (a data URI).
    """
    try:
        size = stat_source(path).st_size
    except FileNotFoundError:
        raise Vanished() from None
    length = len(before) + len(prefix) + 4 * ((size + 2) // 3) + len(after)

    def chunks() -> Iterator[bytes]:
        yield before + prefix
        with open_source(path) as stream:  # never through a link; gone: Vanished
            while piece := stream.read(UPLOAD_CHUNK):
                yield base64.b64encode(piece)
                if on_upload is not None:
                    on_upload(len(piece))
        yield after

    return chunks(), length


@dataclass(frozen=True)
class Answer:
    """A server's whole answer, read before its status is judged."""

    status: int
    reason: str
    body: bytes
    retry_after: str | None
    location: str | None


class HttpClient:
    """An httpx client that speaks the project's errors."""

    def __init__(
        self,
        name: str,
        settings: RemoteSettings,
        base_url: str,
        token: str | None,
        provider_domains: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.hosts = HostPolicy.for_endpoint(base_url, settings.allowed_hosts, provider_domains)
        headers = {"User-Agent": f"dropscribe/{__version__}"}
        if token:
            remember_secret(token)
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            timeout=httpx.Timeout(
                settings.timeout_seconds, connect=min(10.0, settings.timeout_seconds)
            ),
            verify=settings.verify_tls,
            transport=deadline.transport(settings.verify_tls),
            follow_redirects=False,
            headers=headers,
        )

    def close(self) -> None:
        self.client.close()

    def check_url(self, url: str) -> str:
        """Return ``url`` if :mod:`.hosts` trusts it with the token.

        Raises:
            Permanent: for any other address, so a server cannot send the token elsewhere.
        """
        refusal = self.hosts.refusal(url)
        if refusal is None:
            return url
        if "in the clear" in refusal:  # no setting allows that: the server must change
            raise Permanent(
                f"The {self.name} server pointed {refusal}; dropscribe sends its token "
                "only over https."
            )
        raise Permanent(
            f"The {self.name} server pointed {refusal}; add its host to "
            f"backends.{self.name}.allowed_hosts if that is expected."
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        data: Any = None,
        gone_on_404: bool = False,
        absent_ok: bool = False,
    ) -> Any:
        """Send one request and return its JSON answer; with ``absent_ok``, None when
        the address does not exist there (404, 405: a server without that endpoint).

        Raises:
            ServerDown, Retryable, Permanent, FutureGone: see the module docstring.
        """
        request = {"content": content, "headers": headers, "files": files, "data": data}
        answer = self._exchange(method, url, request)
        return self._read_answer(answer, gone_on_404=gone_on_404, absent_ok=absent_ok)

    def _exchange(self, method: str, url: str, request: dict[str, Any]) -> Answer:
        """Send the request and read its whole answer, whatever its status.

        Raises:
            ServerDown, ServerTrouble: the connection failed, broke or timed out.
            Permanent: the address is not trusted, or the answer is too large.
        """
        try:
            built = self.client.build_request(method, self.check_url(url), **request)
            seconds = self.settings.timeout_seconds
            built.stream = CoalescedStream(built.stream, lambda: deadline.start(seconds))
            response = self.client.send(built, stream=True)
            try:
                return Answer(
                    body=self._read_capped(response),
                    status=response.status_code,
                    reason=response.reason_phrase,
                    retry_after=response.headers.get("Retry-After"),
                    location=response.headers.get("Location"),
                )
            finally:
                response.close()
        except httpx.ConnectError as exc:
            raise ServerDown(f"The {self.name} server cannot be reached ({exc}).") from None
        except httpx.TimeoutException:
            raise ServerTrouble(
                f"The {self.name} server's answer did not arrive whole within "
                f"{self.settings.timeout_seconds:g} s (backends.{self.name}.timeout_seconds); "
                "it was abandoned."
            ) from None
        except httpx.TransportError as exc:
            raise ServerTrouble(
                f"The connection to the {self.name} server broke ({type(exc).__name__})."
            ) from None
        finally:
            deadline.clear()

    def _read_answer(self, answer: Answer, *, gone_on_404: bool, absent_ok: bool) -> Any:
        """Return the answer's JSON (None for an absent address with ``absent_ok``).

        Raises:
            ServerDown, Retryable, Permanent, FutureGone: see the module docstring.
        """
        status = answer.status
        if absent_ok and status in (404, 405):
            return None
        if 300 <= status < 400:
            raise Permanent(
                f"The {self.name} server redirected the request ({status}) to "
                f"{(answer.location or 'nowhere')[:200]}; dropscribe follows no redirect: set "
                f"backends.{self.name}'s address to where it points if that is expected."
            )
        if status >= 400:
            message = server_message(answer.body, answer.reason)
            self._raise_for_status(status, message, answer.retry_after, gone_on_404)
        return self._parsed(answer.body)

    def _parsed(self, body: bytes) -> Any:
        try:
            return parse_json(body)
        except RecursionError:
            # Not worth a second try: the same answer would come again.
            raise Permanent(
                f"The {self.name} server sent a malformed answer (JSON nested too deeply to read).",
                detail=body[:200].decode(errors="replace"),
            ) from None
        except ValueError:
            raise Retryable(
                f"The {self.name} server sent a malformed answer (not JSON).",
                detail=body[:500].decode(errors="replace"),
            ) from None

    def _read_capped(self, response: httpx.Response) -> bytes:
        """Read the answer up to the size cap, all of it by the answer's deadline (see
        deadline.py; checked here too, between the body's reads)."""
        limit = self.settings.max_response_bytes
        parts, total = [], 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > limit:
                raise Permanent(
                    f"The {self.name} server's answer is larger than {limit} bytes "
                    f"(backends.{self.name}.max_response_bytes)."
                )
            if deadline.passed():
                raise httpx.ReadTimeout("the answer's deadline has passed")
            parts.append(chunk)
        return b"".join(parts)

    def _raise_for_status(
        self, status: int, message: str, retry_after: str | None, gone_on_404: bool
    ) -> None:
        if gone_on_404 and status in (404, 410):
            raise FutureGone(f"{status}: {message}")
        if status in (401, 403):
            # A bad token affects every file: make jobs wait, not fail, and say how to fix it.
            raise ServerDown(
                f"The {self.name} server refused the credentials ({status}); set "
                f"backends.{self.name}'s token or api_key (see the README).",
                detail=message,
            )
        if status == 429:
            raise RateLimited(
                f"The {self.name} server asked to slow down (429).",
                detail=message,
                retry_after=retry_after_seconds(retry_after),
            )
        if status >= 500 or status == 408:
            raise ServerTrouble(
                f"The {self.name} server answered {status}.",
                detail=message,
                retry_after=retry_after_seconds(retry_after),
            )
        if status == 413:
            raise Permanent(
                f"The {self.name} server refused the file as too large (413); set "
                f"backends.{self.name}.max_upload_bytes lower so a fallback is used.",
                detail=message,
            )
        raise Permanent(
            f"The {self.name} server refused the request ({status}): {message}", detail=message
        )
