"""What is switched on, said the same way by the daemon's start-up line and ``check``."""

from __future__ import annotations

from dropscribe.config import Settings


def diarization_in_force(settings: Settings) -> str:
    """Return whether speaker labels are on: "off", "on", or the folders that have them."""
    if settings.transcribe.diarize:
        off = sorted(name for name, f in settings.folders.items() if f.diarize is False)
        return "on" + (f" (off in {', '.join(off)})" if off else "")
    on = sorted(name for name, f in settings.folders.items() if f.diarize)
    return f"on in {', '.join(on)}" if on else "off"


def metrics_in_force(settings: Settings) -> str:
    """Return where the Prometheus endpoint listens, or "off"."""
    service = settings.service
    if not service.metrics_port:
        return "off"
    host = service.metrics_address
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{service.metrics_port}/metrics"
