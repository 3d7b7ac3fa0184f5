"""A partner's webhook receiver on 127.0.0.1, for tests and the benchmark: it records every POST."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records each POST (its headers, raw body and arrival time) and answers ``status(n)`` to the n-th."""

    def __init__(self, status=lambda n: 200) -> None:
        self.status = status
        self.received: list[tuple[dict, bytes, float, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    code = receiver.status(len(receiver.received) + 1)
                    receiver.received.append((dict(self.headers), body, time.time(), code))
                reply = b"ok" if code < 300 else b"not now"
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body, _, _ in self.received]

    def acknowledged(self) -> list[dict]:
        """The bodies of the POSTs answered with a 2xx, in arrival order."""
        with self.lock:
            return [json.loads(body) for _, body, _, code in self.received if 200 <= code < 300]
