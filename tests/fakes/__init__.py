"""Fake CRMs: real HTTP servers on 127.0.0.1 (core/httpserver.py) that follow the real API
shapes closely enough to break a careless connector (paging, caps, ties, 429s, 5xx, 401s)."""
