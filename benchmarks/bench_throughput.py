"""Sustained bulk throughput against the sandbox: leadbridge's paced client vs naive clients.

MEGA allows 10 bulk requests a minute. The paced client must reach >= 95 % of that rate with
zero 429s over 20+ windows. The sandbox's --time-scale shrinks the minute (0.02 -> 1.2 s) so a
run of 20 windows takes ~25 s. Baselines, measured in the same run on a fresh sandbox each:

* ``naive``: no pacing; on a 429 it sleeps Retry-After and retries (what most scripts do);
* ``fixed``: sleeps window/limit after every answer (ignores latency and headers).

    python benchmarks/bench_throughput.py --time-scale 0.02 --windows 20 --rows 100

Prints achieved vs allowed rate, 429 counts, mean answer latency and the latency bound
``window / (window + latency)``: the paced client logs a request as counted until its answer
arrives (safe whatever moment the server counts it), so it can reach at most that bound; in a
real one-minute window it is > 99.5 %. Exit status 1 when the paced client misses the
95 % / zero-429 bar.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass

import httpx

from leadbridge.chunking import Chunk, make_chunks
from leadbridge.mega import MegaClient
from leadbridge.mega_model import BULK_ENDPOINT, BULK_PER_MINUTE
from leadbridge.sandbox import Sandbox, SandboxConfig


class RecordingTransport(httpx.HTTPTransport):
    """Notes when each request leaves and which status came back (no headers kept)."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[float] = []
        self.statuses: list[int] = []
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        with self._lock:
            self.sends.append(started)
        response = super().handle_request(request)
        response.read()
        with self._lock:
            self.statuses.append(response.status_code)
            self.latencies.append(time.monotonic() - started)
        return response


@dataclass
class Result:
    client: str
    requests: int          # successful bulk requests
    attempts: int          # HTTP requests sent, 429s included
    rate_429: int
    seconds: float
    achieved_per_window: float
    allowed_per_window: int
    percent_of_allowed: float
    mean_latency_ms: float
    #: limit / (window + latency) as % of allowed: the most a client that counts a request
    #: until its answer arrives (leadbridge's provably safe rule) can reach
    latency_bound_percent: float


def _chunks(n: int, rows: int, customer: str, tag: str) -> list[Chunk]:
    data = [{"row_ref": f"{tag}{i}", "contact_email": f"{tag}{i}@bench.example",
             "contact_name": f"Bench {i}", "source_type": "import"} for i in range(n * rows)]
    return make_chunks(data, customer_id=customer, size=rows)


def _result(name: str, transport: RecordingTransport, window: float) -> Result:
    sends, statuses = transport.sends, transport.statuses
    ok = [t for t, s in zip(sends, statuses) if s < 300]
    latency = sum(transport.latencies) / max(1, len(transport.latencies))
    span = ok[-1] - ok[0] if len(ok) > 1 else float("nan")
    per_window = (len(ok) - 1) / span * window if len(ok) > 1 else 0.0
    return Result(name, len(ok), len(sends), statuses.count(429), round(span, 3),
                  round(per_window, 3), BULK_PER_MINUTE,
                  round(100 * per_window / BULK_PER_MINUTE, 1), round(latency * 1000, 1),
                  round(100 * window / (window + latency), 1))


def run_paced(sb: Sandbox, chunks: list[Chunk], scale: float) -> Result:
    grant = sb.config.tokens[0]
    transport = RecordingTransport()
    with MegaClient(sb.base_url, grant.token, grant.customer_id, transport=transport,
                    time_scale=scale, max_attempts=20) as client:
        for chunk in chunks:
            client.send_chunk(chunk)
    return _result("leadbridge (paced)", transport, 60 * scale)


def _raw(sb: Sandbox, transport: httpx.BaseTransport) -> httpx.Client:
    grant = sb.config.tokens[0]
    return httpx.Client(base_url=sb.base_url, transport=transport, headers={
        "Authorization": f"Bearer {grant.token}", "x-customer-id": grant.customer_id,
        "Content-Type": "application/json"})


def run_naive(sb: Sandbox, chunks: list[Chunk], scale: float) -> Result:
    """No pacing; on 429 sleep Retry-After (sub-second twin when the sandbox sends one)."""
    transport = RecordingTransport()
    with _raw(sb, transport) as http:
        for chunk in chunks:
            while True:
                r = http.post(BULK_ENDPOINT, content=chunk.body,
                              headers={"Idempotency-Key": chunk.idempotency_key})
                if r.status_code != 429:
                    r.raise_for_status()
                    break
                ms = r.headers.get("retry-after-ms")
                time.sleep(float(ms) / 1000 if ms else float(r.headers.get("retry-after", 1)))
    return _result("naive (no pacing, Retry-After)", transport, 60 * scale)


def run_fixed(sb: Sandbox, chunks: list[Chunk], scale: float) -> Result:
    """Sleeps window/limit after each answer: never 429s, but pays latency every request."""
    transport = RecordingTransport()
    gap = 60 * scale / BULK_PER_MINUTE
    with _raw(sb, transport) as http:
        for chunk in chunks:
            r = http.post(BULK_ENDPOINT, content=chunk.body,
                          headers={"Idempotency-Key": chunk.idempotency_key})
            if r.status_code == 429:
                time.sleep(float(r.headers.get("retry-after-ms", 1000)) / 1000)
            time.sleep(gap)
    return _result("fixed sleep (window/limit)", transport, 60 * scale)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-scale", type=float, default=0.02,
                    help="sandbox and client window scale (0.02: a minute is 1.2 s)")
    ap.add_argument("--windows", type=int, default=20, help="rate windows to sustain")
    ap.add_argument("--rows", type=int, default=100, help="rows per bulk request (1..500)")
    ap.add_argument("--latency", type=float, default=0.0, help="sandbox latency per request")
    ap.add_argument("--baselines", default="naive,fixed",
                    help="comma list of baselines to run too (naive, fixed; empty for none)")
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    args = ap.parse_args(argv)

    n = args.windows * BULK_PER_MINUTE + 1
    runners = {"paced": run_paced, "naive": run_naive, "fixed": run_fixed}
    order = ["paced"] + [b for b in args.baselines.split(",") if b]
    results: list[Result] = []
    for name in order:
        config = SandboxConfig.default(time_scale=args.time_scale, latency=args.latency)
        with Sandbox(config) as sb:
            chunks = _chunks(n, args.rows, config.tokens[0].customer_id, name)
            results.append(runners[name](sb, chunks, args.time_scale))

    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        window = 60 * args.time_scale
        print(f"bulk limit {BULK_PER_MINUTE}/window, window {window:.2f}s (time scale "
              f"{args.time_scale}), {n} requests of {args.rows} rows (~{args.windows} windows)")
        print(f"{'client':34} {'ok':>5} {'sent':>5} {'429s':>5} {'seconds':>8} "
              f"{'req/window':>10} {'% allowed':>9} {'ms/req':>7} {'bound %':>7}")
        for r in results:
            print(f"{r.client:34} {r.requests:5d} {r.attempts:5d} {r.rate_429:5d} "
                  f"{r.seconds:8.2f} {r.achieved_per_window:10.2f} {r.percent_of_allowed:9.1f} "
                  f"{r.mean_latency_ms:7.1f} {r.latency_bound_percent:7.1f}")
    paced = results[0]
    ok = paced.percent_of_allowed >= 95.0 and paced.rate_429 == 0
    if not args.json:
        print("PASS" if ok else "FAIL", "- paced client: >= 95 % of the allowed rate with zero "
              "429s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
