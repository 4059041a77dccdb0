"""One helper to sign test requests the way HubSpot (and our snippets) do, like stripe-python's test signer."""

from __future__ import annotations

import time

from hubspot.utils.signature import Signature

from sdk.signatures import sign_custom

SECRET = "sandbox-hubspot-client-secret"


def now_ms() -> str:
    return str(int(time.time() * 1000))


def v3_headers(
    uri: str, body: bytes, *, secret: str = SECRET, method: str = "POST", timestamp: str | None = None
) -> dict[str, str]:
    stamp = timestamp or now_ms()
    signature = Signature.get_signature(
        secret, body.decode("utf-8"), "v3", http_uri=uri, http_method=method, timestamp=stamp
    )
    return {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def v2_headers(uri: str, body: bytes, *, secret: str = SECRET, method: str = "POST") -> dict[str, str]:
    signature = Signature.get_signature(secret, body.decode("utf-8"), "v2", http_uri=uri, http_method=method)
    return {
        "X-HubSpot-Signature": signature,
        "X-HubSpot-Signature-Version": "v2",
        "Content-Type": "application/json",
    }


def custom_headers(body: bytes, *, secret: str, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or now_ms()
    return {
        "X-HubSpot-Freee-Timestamp": stamp,
        "X-HubSpot-Freee-Signature": sign_custom(secret, stamp, body),
        "Content-Type": "application/json",
    }
