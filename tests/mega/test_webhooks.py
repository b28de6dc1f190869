"""verify_webhook against vectors computed independently of leadbridge's own signing code."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from leadbridge.connector import Secret
from leadbridge.mega import (
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

SECRET = "mega_whsec_test_0123456789abcdef"
TS = "1767225600"  # 2026-01-01T00:00:00Z
BODY = (b'{"event":"lead.created","delivered_at":"2026-01-01T00:00:00.000Z",'
        b'"lead":{"id":"l_1"}}')
# Computed outside Python with:
#   printf '%s' "$TS.$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex
OPENSSL_SIGNATURE = "sha256=a3eeee461ae2d8b24c629cfaabece2fc2d64b9c77a274c7f0145962737141267"
NOW = 1767225600 + 10


def _independent(secret: str, ts: str, body: bytes) -> str:
    """Section 13.4 spelled out with hmac directly (not leadbridge's code)."""
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def test_openssl_vector_and_independent_hmac_agree_and_verify() -> None:
    assert _independent(SECRET, TS, BODY) == OPENSSL_SIGNATURE
    assert sign_webhook(SECRET, TS, BODY) == OPENSSL_SIGNATURE
    assert verify_webhook(SECRET, TS, BODY, OPENSSL_SIGNATURE, now=NOW) is True
    # every accepted input form
    verify_webhook(SECRET.encode(), TS.encode(), BODY, OPENSSL_SIGNATURE.encode(), now=NOW)
    verify_webhook(Secret(SECRET), int(TS), BODY.decode(), OPENSSL_SIGNATURE, now=NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookSignatureError) as info:
        verify_webhook(SECRET + "x", TS, BODY, OPENSSL_SIGNATURE, now=NOW)
    assert info.value.reason == "signature_mismatch" and info.value.http_status == 401


@pytest.mark.parametrize("tamper", [
    lambda b: b.replace(b"l_1", b"l_2"),
    lambda b: b + b" ",
    lambda b: b[:-1],
    lambda b: json.dumps(json.loads(b), indent=1).encode(),  # re-serialized, same JSON value
])
def test_tampered_body_is_rejected(tamper) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_webhook(SECRET, TS, tamper(BODY), OPENSSL_SIGNATURE, now=NOW)


def test_signature_for_another_timestamp_is_rejected() -> None:
    other_ts = str(int(TS) + 1)
    sig = _independent(SECRET, TS, BODY)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(SECRET, other_ts, BODY, sig, now=NOW)


@pytest.mark.parametrize("signature", [
    None, "", OPENSSL_SIGNATURE[len("sha256="):],  # missing prefix
    OPENSSL_SIGNATURE.upper(), "sha256=" + "0" * 64, "sha1=" + "0" * 40, "sha256=ünïcode",
])
def test_malformed_or_wrong_signatures_are_rejected(signature) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_webhook(SECRET, TS, BODY, signature, now=NOW)


def test_stale_and_future_timestamps_are_rejected_even_when_signed() -> None:
    for offset, reason in ((301, "timestamp_stale"), (-301, "timestamp_future")):
        ts = str(int(TS) - offset)
        sig = _independent(SECRET, ts, BODY)  # genuinely signed, only too old/new
        with pytest.raises(WebhookTimestampError) as info:
            verify_webhook(SECRET, ts, BODY, sig, now=int(TS))
        assert info.value.reason == reason and info.value.http_status == 400
    # inside the window, both directions pass; the tolerance is adjustable
    for offset in (300, -300):
        ts = str(int(TS) - offset)
        verify_webhook(SECRET, ts, BODY, _independent(SECRET, ts, BODY), now=int(TS))
    ts = str(int(TS) - 60)
    with pytest.raises(WebhookTimestampError):
        verify_webhook(SECRET, ts, BODY, _independent(SECRET, ts, BODY), tolerance=30,
                       now=int(TS))


@pytest.mark.parametrize("timestamp", [None, "", "abc", "1767225600.5", "-1", "1e9"])
def test_missing_or_malformed_timestamps_are_rejected(timestamp) -> None:
    with pytest.raises(WebhookTimestampError):
        verify_webhook(SECRET, timestamp, BODY, OPENSSL_SIGNATURE, now=NOW)


def test_a_timestamp_with_a_trailing_newline_is_malformed_even_when_signed() -> None:
    """``$`` in the pattern matched before a final newline, so ``"<digits>\\n"`` passed."""
    ts = TS + "\n"
    with pytest.raises(WebhookTimestampError):
        verify_webhook(SECRET, ts, BODY, _independent(SECRET, ts, BODY), now=NOW)


@pytest.mark.parametrize("signature", ["sha256=\udc80", "\ud800" * 71])
def test_a_signature_with_lone_surrogates_is_a_mismatch_not_a_traceback(signature) -> None:
    """Strict UTF-8 encoding of such a header raised UnicodeEncodeError."""
    with pytest.raises(WebhookSignatureError):
        verify_webhook(SECRET, TS, BODY, signature, now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(SECRET, TS, "\udc80", OPENSSL_SIGNATURE, now=NOW)  # a str body too


@pytest.mark.parametrize("secret", ["", b"", Secret(""), None])
def test_an_empty_secret_is_refused_not_used_as_a_key(secret) -> None:
    """With the empty key anyone can sign: a receiver whose secret variable is unset accepted
    forged deliveries. Now it is a ConfigError, whatever the delivery says."""
    from leadbridge.errors import ConfigError

    forged = _independent("", TS, BODY)
    with pytest.raises(ConfigError, match="secret is empty"):
        verify_webhook(secret, TS, BODY, forged, now=NOW)


def test_all_failures_share_one_base_class() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, TS, BODY, "sha256=nope", now=NOW)


def test_default_now_is_the_wall_clock() -> None:
    import time

    ts = str(int(time.time()))
    verify_webhook(SECRET, ts, BODY, _independent(SECRET, ts, BODY))
    with pytest.raises(WebhookTimestampError):
        verify_webhook(SECRET, TS, BODY, OPENSSL_SIGNATURE)  # signed in January 2026


def test_sandbox_deliveries_verify_end_to_end(sandbox_factory) -> None:
    """The sandbox signs a real lead.created delivery; the receiver verifies the raw bytes."""
    import threading
    import time

    from mega_support import client_for

    from leadbridge.httpserver import JSONServer, Response, Router

    got: list[tuple[bool, bytes, dict]] = []
    arrived = threading.Event()
    secret_box: dict[str, str] = {}

    def receive(request) -> Response:
        try:
            ok = verify_webhook(secret_box["secret"], request.header("x-mega-timestamp"),
                                request.body, request.header("x-mega-signature"))
        except WebhookVerificationError:
            ok = False
        got.append((ok, request.body, dict(request.headers)))
        arrived.set()
        return Response(200, {"ok": True})

    router = Router()
    router.add("POST", "/hook", receive)
    with JSONServer(router, poll_interval=0.05) as receiver:
        sb = sandbox_factory(allow_private_webhooks=True)
        with client_for(sb) as client:
            created = client.create_webhook(receiver.base_url + "/hook")
            secret_box["secret"] = created["secret"]
            lead = client.create_lead({"contact_email": "hook@example.com"})
            assert arrived.wait(10)
        time.sleep(0.1)
    ok, body, headers = got[0]
    assert ok and json.loads(body)["lead"]["id"] == lead["id"]
    ts = headers["x-mega-timestamp"]
    assert headers["x-mega-signature"] == _independent(created["secret"], ts, body)
    with pytest.raises(WebhookSignatureError):  # the same delivery, body tampered
        verify_webhook(created["secret"], ts, body.replace(b"hook@", b"evil@"),
                       headers["x-mega-signature"])
    with pytest.raises(WebhookTimestampError):  # the same delivery replayed an hour later
        verify_webhook(created["secret"], ts, body, headers["x-mega-signature"],
                       now=int(ts) + 3600)
