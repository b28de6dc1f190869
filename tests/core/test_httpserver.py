"""The shared loopback server the sandbox and every fake CRM stand on."""

from __future__ import annotations

import httpx
import pytest

from leadbridge.httpserver import JSONServer, Response, Router


def _router() -> Router:
    router = Router()

    @router.route("GET", "/items/{item_id}")
    def item(request):
        return Response(200, {"id": request.params["item_id"], "q": request.arg("q")})

    @router.route("POST", "/echo")
    def echo(request):
        return Response(201, request.json(), headers={"X-Seen": request.header("x-test", "")})

    @router.route("POST", "/crash")
    def crash(request):
        raise RuntimeError("boom")

    @router.route("POST", "/drop")
    def drop(request):
        return Response(drop=True)

    return router


def test_routes_params_json_and_errors() -> None:
    with JSONServer(_router(), max_body=100) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=server.base_url) as client:
            assert client.get("/items/42", params={"q": "x"}).json() == {"id": "42", "q": "x"}
            echoed = client.post("/echo", json={"a": 1}, headers={"X-Test": "yes"})
            assert (echoed.status_code, echoed.json(), echoed.headers["x-seen"]) == (201, {"a": 1}, "yes")
            assert client.get("/nowhere").status_code == 404
            assert client.delete("/items/1").status_code == 405
            assert client.post("/crash").status_code == 500
            assert client.post("/echo", content=b"x" * 101).status_code == 413
            # the server survives all of the above
            assert client.get("/items/7").json()["id"] == "7"


def test_drop_closes_without_an_answer() -> None:
    with JSONServer(_router()) as server:
        with pytest.raises(httpx.TransportError):
            httpx.post(server.base_url + "/drop", json={})
        assert httpx.get(server.base_url + "/items/1").status_code == 200
