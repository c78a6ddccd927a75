"""A real HTTP server that records what it receives: the other end of webhook tests."""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: bytes
    received_at: float  # Unix time

    def json(self):
        return json.loads(self.body)


class Receiver:
    """Serve on 127.0.0.1 at a free port; answer with ``statuses`` in turn, then 200."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self.answered: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.answered.append(status)
                    if status < 300:
                        receiver.received.append(
                            Received(self.path, dict(self.headers), body, time.time())
                        )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
