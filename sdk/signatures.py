"""Request signatures: HubSpot's v3 (webhooks, and workflow actions when sent) and v2 (workflow actions), and
the project's own HMAC for custom-code snippets.

HubSpot's arithmetic is the official ``hubspot.utils.signature.Signature``; around it this module adds what the
library leaves out: a time-stamp more than five minutes in the *future* is refused as well as a stale one, and
every refusal says why (for the log, never echoing the secret).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import TYPE_CHECKING

from sdk.errors import SignatureRejected

if TYPE_CHECKING:
    from sdk.http import HttpRequest

MAX_SKEW_SECONDS = 300
CUSTOM_SIGNATURE_HEADER = "X-HubSpot-Freee-Signature"
CUSTOM_TIMESTAMP_HEADER = "X-HubSpot-Freee-Timestamp"


def _fresh(timestamp: str | None, now: datetime) -> None:
    if not timestamp:
        raise SignatureRejected("missing timestamp header")
    try:
        millis = int(timestamp)
    except ValueError:
        raise SignatureRejected("timestamp is not epoch milliseconds") from None
    skew = now.timestamp() - millis / 1000
    if skew > MAX_SKEW_SECONDS:
        raise SignatureRejected("timestamp is more than 5 minutes old")
    if skew < -MAX_SKEW_SECONDS:
        raise SignatureRejected("timestamp is more than 5 minutes in the future")


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRejected("body is not UTF-8") from None


def verify_hubspot_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
) -> None:
    """``X-HubSpot-Signature-v3``: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    from hubspot.utils.signature import Signature

    if not signature:
        raise SignatureRejected("missing X-HubSpot-Signature-v3")
    _fresh(timestamp, now)
    expected = Signature.get_signature(
        secret, _text(body), "v3", http_uri=uri, http_method=method, timestamp=timestamp
    )
    if not hmac.compare_digest(expected, signature):
        raise SignatureRejected("v3 signature does not match")


def verify_hubspot_v2(*, secret: str, method: str, uri: str, body: bytes, signature: str | None) -> None:
    """``X-HubSpot-Signature`` with version v2: hex SHA-256 of secret + method + URI + body."""
    from hubspot.utils.signature import Signature

    if not signature:
        raise SignatureRejected("missing X-HubSpot-Signature")
    expected = Signature.get_signature(secret, _text(body), "v2", http_uri=uri, http_method=method)
    if not hmac.compare_digest(expected, signature):
        raise SignatureRejected("v2 signature does not match")


def sign_custom(secret: str, timestamp: str, body: bytes) -> str:
    """The custom-code snippets' signature: hex HMAC-SHA256 over ``f"{timestamp}.{body}"``."""
    return hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()


def verify_custom(
    *, secret: str, body: bytes, signature: str | None, timestamp: str | None, now: datetime
) -> None:
    if not signature:
        raise SignatureRejected(f"missing {CUSTOM_SIGNATURE_HEADER}")
    _fresh(timestamp, now)
    assert timestamp is not None  # noqa: S101 - _fresh refused a missing one
    if not hmac.compare_digest(sign_custom(secret, timestamp, body), signature):
        raise SignatureRejected("signature does not match")


def verify_custom_request(request: HttpRequest, *, secret: str, now: datetime) -> None:
    """A request from one of our custom-code snippets (:func:`verify_custom` over its headers and body)."""
    verify_custom(
        secret=secret,
        body=request.body,
        signature=request.headers.get(CUSTOM_SIGNATURE_HEADER),
        timestamp=request.headers.get(CUSTOM_TIMESTAMP_HEADER),
        now=now,
    )


def verify_hubspot_request(request: HttpRequest, *, secret: str, now: datetime, allow_v2: bool) -> None:
    """A request from HubSpot: v3 when its header is present (and always for webhooks); v2 only where HubSpot still
    signs with it (workflow actions, ``allow_v2``). v1 is never accepted."""
    if request.headers.get("X-HubSpot-Signature-v3") or not allow_v2:
        verify_hubspot_v3(
            secret=secret,
            method=request.method,
            uri=request.uri,
            body=request.body,
            signature=request.headers.get("X-HubSpot-Signature-v3"),
            timestamp=request.headers.get("X-HubSpot-Request-Timestamp"),
            now=now,
        )
        return
    version = (request.headers.get("X-HubSpot-Signature-Version") or "v2").lower()
    if version != "v2":
        raise SignatureRejected(f"signature version {version} is not accepted (v2 or v3)")
    verify_hubspot_v2(
        secret=secret,
        method=request.method,
        uri=request.uri,
        body=request.body,
        signature=request.headers.get("X-HubSpot-Signature"),
    )
