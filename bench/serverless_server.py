"""A serverless GPU endpoint simulated on 127.0.0.1, speaking the OctoAI protocol.

``workers`` jobs run at once; each takes ``rtf`` x its audio's seconds (a job
beyond the workers waits for one, as on a real endpoint with its workers all
busy). It decodes what arrives (so its duration is real), counts the bytes of
every request body, and answers with one segment per job, of placeholder words as
many as speech has (``WORDS_PER_SECOND``).

    POST /predict {"audio": base64, ...} -> 201 {"response_id", "poll_url"}
    GET  /poll/<id>   -> {"status": "pending" | "completed", "response_url"}
    GET  /result/<id> -> {"text", "language", "segments": [...]}
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import av

#: Words a second of audio in the answer: over the 1.9 a second of heard speech under
#: which the coverage pass takes a segment without word timings for one stretched over
#: a skipped sentence (transcript/coverage.py), as a real engine's are; a few words per
#: job would have every chunk sent again.
WORDS_PER_SECOND = 3.0


@dataclass
class Job:
    seconds: float
    received_at: float
    body_bytes: int
    started_at: float | None = None
    finished_at: float | None = None
    #: When a poll first answered "completed", and how many polls it took.
    found_at: float | None = None
    polls: int = 0


def audio_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / float(stream.rate or 16000)


class ServerlessServer:
    def __init__(self, workers: int = 4, rtf: float = 0.05) -> None:
        self.rtf = rtf
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="gpu")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                job_id = outer.submit(body)
                host = self.headers["Host"]
                self.answer(
                    201, {"response_id": job_id, "poll_url": f"http://{host}/poll/{job_id}"}
                )

            def do_GET(self) -> None:
                kind, _, job_id = self.path.strip("/").partition("/")
                job = outer.jobs.get(job_id)
                if job is None:
                    self.answer(404, {"error": "no such job"})
                elif kind == "poll":
                    done = job.finished_at is not None
                    job.polls += 1
                    if done and job.found_at is None:
                        job.found_at = time.perf_counter()
                    result = f"http://{self.headers['Host']}/result/{job_id}"
                    self.answer(
                        200, {"status": "completed" if done else "pending", "response_url": result}
                    )
                else:
                    text = " " + " ".join(["word"] * round(WORDS_PER_SECOND * job.seconds))
                    segment = {"start": 0.0, "end": job.seconds, "text": text}
                    self.answer(200, {"text": text, "language": "en", "segments": [segment]})

            def answer(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def submit(self, body: bytes) -> str:
        """Take a job and answer at once, as an endpoint does; a worker decodes it later."""
        job = Job(0.0, time.perf_counter(), len(body))
        with self.lock:
            job_id = f"job-{len(self.jobs)}"
            self.jobs[job_id] = job
        self.pool.submit(self._work, job, body)
        return job_id

    def _work(self, job: Job, body: bytes) -> None:
        job.started_at = time.perf_counter()
        job.seconds = audio_seconds(base64.b64decode(json.loads(body)["audio"]))
        # The job takes rtf x its audio from its start, however long the decoding here took.
        time.sleep(max(0.0, job.started_at + job.seconds * self.rtf - time.perf_counter()))
        job.finished_at = time.perf_counter()

    def body_bytes(self) -> int:
        with self.lock:
            return sum(job.body_bytes for job in self.jobs.values())

    def lateness(self) -> list[float]:
        """How long after each job finished a poll first found it finished (seconds)."""
        with self.lock:
            jobs = list(self.jobs.values())
        return [j.found_at - j.finished_at for j in jobs if j.found_at and j.finished_at]

    def polls(self) -> int:
        with self.lock:
            return sum(job.polls for job in self.jobs.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)
