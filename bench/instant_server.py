"""An OpenAI-compatible transcription server on 127.0.0.1 that answers at once.

It reads the upload (so the daemon really sends it) and returns the same
small verbose_json every time: the pipeline's cost is all that is measured.
It can also swallow an upload of any size without keeping it, for the memory
benchmark, and tell how many bytes it received.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = json.dumps(
    {
        "text": " Hello there.",
        "language": "english",
        "duration": 1.0,
        "segments": [{"start": 0.0, "end": 1.0, "text": " Hello there."}],
        "words": [
            {"word": "Hello", "start": 0.0, "end": 0.5},
            {"word": "there.", "start": 0.5, "end": 1.0},
        ],
    }
).encode()


class InstantServer:
    def __init__(self) -> None:
        outer = self
        self.received = 0
        self.requests = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                remaining = int(self.headers.get("Content-Length") or 0)
                chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
                total = 0
                if chunked:
                    while size := int(self.rfile.readline().strip(), 16):
                        total += len(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                while remaining:
                    piece = self.rfile.read(min(remaining, 1 << 20))
                    if not piece:
                        break
                    total += len(piece)
                    remaining -= len(piece)
                with outer._lock:
                    outer.received += total
                    outer.requests += 1
                body = self.answer()
                self.send_response(200 if not self.path.endswith("/predict") else 201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                body = json.dumps({"status": "completed"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def answer(self) -> bytes:
                if self.path.endswith("/predict"):  # the OctoAI protocol, for big uploads
                    return json.dumps(
                        {"response_id": "x", "poll_url": f"http://{self.headers['Host']}/poll"}
                    ).encode()
                return ANSWER

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
