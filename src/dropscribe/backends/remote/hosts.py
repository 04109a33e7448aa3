"""Which addresses a server may send us to: a poll or result URL is followed, with
the token, only where the endpoint itself lives.

Trusted, in this order:

- the endpoint's own host and port;
- a host in ``allowed_hosts``: a name alone allows it on any port, ``name:port``
  on that port only (names compare without case);
- a host under the provider's own domain when the endpoint is under it too
  (OctoAI answers a POST to ``<name>.octoai.run`` with a poll URL on
  ``async.octoai.run``, its documented asynchronous-inference service).

Never an ``http://`` address when the endpoint is ``https://``: the token would
travel in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return None


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _allowed_entry(entry: str) -> tuple[str, int | None]:
    """Split an ``allowed_hosts`` entry into its name and its port (None: any)."""
    parts = urlsplit(f"//{entry.strip()}")
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or entry.strip().lower()), port


@dataclass(frozen=True)
class HostPolicy:
    scheme: str
    host: str
    port: int | None
    allowed: tuple[tuple[str, int | None], ...]
    domains: tuple[str, ...]

    @classmethod
    def for_endpoint(
        cls, url: str, allowed_hosts: list[str], provider_domains: tuple[str, ...] = ()
    ) -> HostPolicy:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return cls(
            scheme=parts.scheme.lower(),
            host=host,
            port=_port(parts),
            allowed=tuple(_allowed_entry(entry) for entry in allowed_hosts),
            domains=tuple(d.lower() for d in provider_domains if _within(host, d.lower())),
        )

    def refusal(self, url: str) -> str | None:
        """Return why ``url`` must not be followed (a clause naming it), or None."""
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), _port(parts)
        if scheme not in DEFAULT_PORTS or not host:
            return f"to {url[:200]!r}, which is not an http(s) address"
        if self.scheme == "https" and scheme != "https":
            return f"to {scheme}://{parts.netloc}, in the clear while the endpoint uses https"
        if (host, port) == (self.host, self.port):
            return None
        if any(name == host and allowed in (None, port) for name, allowed in self.allowed):
            return None
        if scheme == "https" and any(_within(host, domain) for domain in self.domains):
            return None
        return f"to {parts.netloc}, which is not its own host"
