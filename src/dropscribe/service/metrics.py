"""An optional Prometheus endpoint: jobs by state, durations, retries, backend errors.

Off by default; bound to 127.0.0.1 unless configured otherwise. The text
format is simple enough to write by hand, which keeps a dependency out.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dropscribe.config import ServiceSettings
    from dropscribe.jobs.dispatcher import Dispatcher
    from dropscribe.jobs.store import Store


def render(store: Store, dispatcher: Dispatcher) -> str:
    """Return the metrics in the Prometheus text exposition format."""
    lines = [
        "# HELP dropscribe_jobs Jobs in the store by state.",
        "# TYPE dropscribe_jobs gauge",
    ]
    for state, count in store.counts().items():
        lines.append(f'dropscribe_jobs{{state="{state}"}} {count}')
    lines += [
        "# HELP dropscribe_jobs_in_flight Jobs handed to a backend right now.",
        "# TYPE dropscribe_jobs_in_flight gauge",
        f"dropscribe_jobs_in_flight {dispatcher.in_flight()}",
        "# HELP dropscribe_retries_total Jobs put back in the queue after a transient error.",
        "# TYPE dropscribe_retries_total counter",
        f"dropscribe_retries_total {dispatcher.retries}",
        "# HELP dropscribe_backend_errors_total Errors reported by each backend, by kind.",
        "# TYPE dropscribe_backend_errors_total counter",
    ]
    for (backend, kind), count in sorted(dispatcher.backend_errors.items()):
        lines.append(
            f'dropscribe_backend_errors_total{{backend="{backend}",kind="{kind}"}} {count}'
        )
    durations = store.durations()
    lines += [
        "# HELP dropscribe_job_duration_seconds From discovery to done.",
        "# TYPE dropscribe_job_duration_seconds summary",
        f"dropscribe_job_duration_seconds_sum {sum(durations):.3f}",
        f"dropscribe_job_duration_seconds_count {len(durations)}",
    ]
    return "\n".join(lines) + "\n"


class MetricsServer:
    def __init__(self, settings: ServiceSettings, store: Store, dispatcher: Dispatcher) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                body = render(outer.store, outer.dispatcher).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes every few seconds would drown the log

        self.store = store
        self.dispatcher = dispatcher
        self.server = ThreadingHTTPServer(
            (settings.metrics_address, settings.metrics_port), Handler
        )
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True, name="metrics").start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
