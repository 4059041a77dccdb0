"""What every route called by HubSpot (or by our custom-code snippets) checks before it reads the request.

:func:`admit` runs one :class:`Scheme`'s checks and answers the first refusal, or None to go on:

* the body is at most :data:`~sdk.http.MAX_BODY_BYTES` (413 ``body_too_large``) — first, except for custom code,
  which says first that the server is not configured;
* the secret that signs the route is configured (503 ``not_configured``);
* this installation's portal is configured (503 ``not_configured``, :func:`sdk.tenant.http_refusal`);
* the signature (401 ``invalid_signature``, saying why): HubSpot's v3 for the webhook and the card, v3 or v2 for
  the workflow action (:func:`sdk.signatures.verify_hubspot_request`), the snippets' HMAC of the shared secret for
  custom code (:func:`sdk.signatures.verify_custom_request`).

The portal a request names is known only once its body is parsed: the handler checks it then with
:meth:`Scheme.refusal`, under the same ``entry`` name in the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from sdk.errors import SignatureRejected
from sdk.http import MAX_BODY_BYTES, HttpRequest, HttpResponse, error
from sdk.log import get_logger
from sdk.signatures import verify_custom_request, verify_hubspot_request
from sdk.tenant import http_refusal

if TYPE_CHECKING:
    from datetime import datetime

    from pydantic import SecretStr

    from sdk.clock import Clock
    from sdk.settings import Settings

Verifier = Callable[..., None]  # (request, *, secret, now) -> None, raising SignatureRejected


@dataclass(frozen=True)
class Scheme:
    """How one route is admitted."""

    entry: str  # the route's name in the tenant log lines (``entry``)
    secret: Callable[[Settings], SecretStr | None]
    secret_env: str  # that secret's environment variable
    missing_secret: str  # the 503 message when it is not configured
    verify: Verifier
    limit_body: bool = True  # a GET (the card) has no body to limit
    body_first: bool = True  # 413 before the configuration checks
    logs: bool = False  # log ``<entry>_not_configured`` and ``<entry>_rejected`` (the webhook does)

    def refusal(self, settings: Settings, portal_id: int) -> HttpResponse | None:
        """The 403 (another portal) or 503 (none configured) for the portal the request names; None when ours."""
        return http_refusal(settings, portal_id, entry=self.entry)


_APP_NOT_CONFIGURED = "the app's client secret is not configured on this server"


def _app_secret(settings: Settings) -> SecretStr | None:
    return settings.hubspot_client_secret


WEBHOOK = Scheme(
    "webhook",
    _app_secret,
    "HUBSPOT_CLIENT_SECRET",
    _APP_NOT_CONFIGURED,
    partial(verify_hubspot_request, allow_v2=False),
    logs=True,
)
WORKFLOW_ACTION = Scheme(
    "workflow_action",
    _app_secret,
    "HUBSPOT_CLIENT_SECRET",
    _APP_NOT_CONFIGURED,
    partial(verify_hubspot_request, allow_v2=True),  # HubSpot still signs workflow actions with v2
)
CARD = Scheme(
    "card",
    _app_secret,
    "HUBSPOT_CLIENT_SECRET",
    _APP_NOT_CONFIGURED,
    partial(verify_hubspot_request, allow_v2=False),  # hubspot.fetch requests are signed with v3
    limit_body=False,
)
CUSTOM_CODE = Scheme(
    "custom_code",
    lambda settings: settings.custom_code_secret,
    "CUSTOM_CODE_SECRET",
    "CUSTOM_CODE_SECRET is not configured on this server",
    verify_custom_request,
    body_first=False,
)


def admit(request: HttpRequest, scheme: Scheme, settings: Settings, clock: Clock) -> HttpResponse | None:
    """None when ``request`` may be read; else the refusal to answer (see the module)."""
    too_large = _too_large(request) if scheme.limit_body else None
    if too_large is not None and scheme.body_first:
        return too_large
    secret = scheme.secret(settings)
    if secret is None or not secret.get_secret_value():
        if scheme.logs:
            get_logger().error({"event": f"{scheme.entry}_not_configured", "missing": scheme.secret_env})
        return error(503, "not_configured", scheme.missing_secret)
    unconfigured = http_refusal(settings, None, entry=scheme.entry)
    if unconfigured is not None:
        return unconfigured
    if too_large is not None:
        return too_large
    return _verified(request, scheme, secret.get_secret_value(), clock.now())


def _too_large(request: HttpRequest) -> HttpResponse | None:
    if len(request.body) > MAX_BODY_BYTES:
        return error(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
    return None


def _verified(request: HttpRequest, scheme: Scheme, secret: str, now: datetime) -> HttpResponse | None:
    try:
        scheme.verify(request, secret=secret, now=now)
    except SignatureRejected as rejected:
        if scheme.logs:
            get_logger().warning(
                {"event": f"{scheme.entry}_rejected", "reason": str(rejected), "uri": request.uri}
            )
        return error(401, "invalid_signature", str(rejected))
    return None


__all__ = ["CARD", "CUSTOM_CODE", "WEBHOOK", "WORKFLOW_ACTION", "Scheme", "admit"]
