"""A fake ExampleCRM on 127.0.0.1 (stdlib only): what the connector's tests read from."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeExampleCRM:
    def __init__(self, token: str) -> None:
        self.token = token
        self.contacts: dict[int, dict] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._send(401, {"error": "unauthorized"})
                if url.path != "/v1/contacts":
                    return self._send(404, {"error": "not found"})
                rows = sorted(fake.contacts.values(), key=lambda c: (c["updated_at"], c["id"]))
                if "updated_since" in query:
                    rows = [c for c in rows if c["updated_at"] > query["updated_since"]]
                page, limit = int(query.get("page", 1)), int(query.get("limit", 100))
                chunk = rows[(page - 1) * limit: page * limit]
                more = page * limit < len(rows)
                self._send(200, {"contacts": chunk, "next_page": page + 1 if more else None})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, cid: int, updated_at: str, **fields) -> None:
        self.contacts[cid] = {"id": cid, "updated_at": updated_at,
                              "created_at": updated_at, **fields}

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
