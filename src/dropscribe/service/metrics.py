"""An optional Prometheus endpoint, built on ``prometheus_client``.

Counters and the duration histogram count what happened since the daemon
started, so they only grow (what ``rate()`` needs); gauges (jobs by state,
jobs in flight) are read from the store and the dispatcher at scrape time.
Off by default; bound to 127.0.0.1 unless configured otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from dropscribe.config import ServiceSettings
    from dropscribe.jobs.dispatcher import Dispatcher
    from dropscribe.jobs.store import Store
    from dropscribe.jobs.store.schema import Job
    from dropscribe.service.machine import MachineWatch

#: Upper bounds, in seconds, of the duration buckets: a short note to a long meeting.
DURATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


class _ReadAtScrape(Collector):
    """Jobs by state from the store; in flight, retries and errors from the dispatcher."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dispatcher: Dispatcher | None = None
        self.machine: MachineWatch | None = None

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("dropscribe_jobs", "Jobs in the store by state.", labels=["state"])
        for state, count in self.store.counts().items():
            jobs.add_metric([state], count)
        yield jobs
        yield from self._machine()
        dispatcher = self.dispatcher
        if dispatcher is None:
            return
        yield GaugeMetricFamily(
            "dropscribe_jobs_in_flight",
            "Jobs handed to a backend right now.",
            value=dispatcher.in_flight(),
        )
        # The dispatcher keeps these counts for the daemon's life: they only grow.
        yield CounterMetricFamily(
            "dropscribe_retries",
            "Jobs put back in the queue after a transient error.",
            value=dispatcher.retries,
        )
        errors = CounterMetricFamily(
            "dropscribe_backend_errors",
            "Errors reported by each backend, by kind.",
            labels=["backend", "kind"],
        )
        for (backend, kind), count in sorted(dispatcher.backend_errors.items()):
            errors.add_metric([backend, kind], count)
        yield errors

    def _machine(self) -> Iterator[Metric]:
        """Free space where the daemon writes, and whether it takes new work."""
        machine = self.machine
        if machine is None:
            return
        free = GaugeMetricFamily(
            "dropscribe_free_bytes",
            "Free bytes on the file system of the outbox and of the job store, at the "
            "daemon's last look (below service.min_free_mb no new work is taken).",
            labels=["folder"],
        )
        for folder, left in sorted(machine.free.items()):
            if left is not None:
                free.add_metric([folder], left)
        yield free
        yield GaugeMetricFamily(
            "dropscribe_ready",
            "1 while the daemon takes new work; 0 while a full or read-only disk, low "
            "free space or an unavailable inbox holds it back.",
            value=0 if machine.readiness.problems() else 1,
        )


class Metrics:
    """The daemon's metrics, in a registry of their own (never the process-wide one)."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self._read_at_scrape = _ReadAtScrape(store)
        self.registry.register(self._read_at_scrape)
        self.finished = Counter(
            "dropscribe_jobs_finished",
            "Jobs finished since the daemon started, by final state and backend.",
            ["state", "backend"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "dropscribe_job_duration_seconds",
            "Seconds from discovery to done of each job done, by backend.",
            ["backend"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )

    def watch_machine(self, machine: MachineWatch) -> None:
        """Read free space and readiness from ``machine`` at each scrape."""
        self._read_at_scrape.machine = machine

    def watch(self, dispatcher: Dispatcher) -> None:
        """Read in flight, retries and backend errors from ``dispatcher`` at each scrape."""
        self._read_at_scrape.dispatcher = dispatcher

    def job_finished(self, job: Job) -> None:
        """Count a job that reached its final state (the finisher calls this)."""
        state = str(job.state)
        self.finished.labels(state, job.backend).inc()
        if state == "done" and job.finished_at is not None:
            self.durations.labels(job.backend).observe(max(0.0, job.finished_at - job.created_at))


class MetricsServer:
    """Serves ``/metrics`` (and nothing else) in a thread of its own."""

    def __init__(self, settings: ServiceSettings, metrics: Metrics) -> None:
        registry = metrics.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                body = encoder(registry)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes every few seconds would drown the log

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
