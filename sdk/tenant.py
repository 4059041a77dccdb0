"""The tenant boundary (DESIGN §3): this installation serves one HubSpot portal, ``HUBSPOT_PORTAL_ID``.

A valid HubSpot signature does not prove the portal: the app's client secret signs requests for every portal that
installed the app, and the access token reads only this installation's portal. So every entry point (webhook,
workflow action, custom code, card, CLI, queue worker) checks the portal it was given with :func:`check_portal`
before any read or write, and ``create_invoice_for_deal`` checks it again first thing. The portal setting is
required: without it nothing is served (:func:`own_portal` raises a :class:`~sdk.errors.SettingsError` naming
``HUBSPOT_PORTAL_ID``), and ``hubspot-freee doctor`` says which portal the access token belongs to
(:func:`token_portal_problem`).

HTTP handlers map the two refusals once with :func:`http_refusal`: 503 ``not_configured`` and 403
``foreign_portal`` (the body names the portal received, in Japanese and English, never the configured one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sdk.errors import ForeignPortal, SettingsError
from sdk.http import HttpResponse, error
from sdk.log import get_logger

if TYPE_CHECKING:
    from sdk.settings import Settings

NOT_CONFIGURED_JA = (
    "HUBSPOT_PORTAL_ID が設定されていません。このインストールのHubSpotポータルIDを設定してください"
    "（`hubspot-freee doctor` がアクセストークンのポータルを表示します）。"
)
NOT_CONFIGURED_EN = (
    "HUBSPOT_PORTAL_ID is not set: set it to this installation's HubSpot portal id "
    "(`hubspot-freee doctor` shows the portal of the access token)"
)


def own_portal(settings: Settings) -> int:
    """This installation's portal; :class:`SettingsError` naming ``HUBSPOT_PORTAL_ID`` when it is not set."""
    portal = settings.hubspot_portal_id
    if portal is None:
        raise SettingsError([f"{NOT_CONFIGURED_JA} / {NOT_CONFIGURED_EN}"])
    return portal


def check_portal(settings: Settings, portal_id: int) -> int:
    """``portal_id`` when it is this installation's; :class:`ForeignPortal` otherwise (``SettingsError`` when
    none is configured)."""
    own = own_portal(settings)
    if portal_id != own:
        raise ForeignPortal(portal_id, own)
    return portal_id


def http_refusal(settings: Settings, portal_id: int | None, *, entry: str) -> HttpResponse | None:
    """None when ``portal_id`` (or, with None, just the setting) passes; else the 503 or 403 to answer, logged
    with ``entry`` (the route) and both portals."""
    try:
        if portal_id is None:
            own_portal(settings)
        else:
            check_portal(settings, portal_id)
    except SettingsError:
        get_logger().error({"event": "not_configured", "missing": "HUBSPOT_PORTAL_ID", "entry": entry})
        return not_configured()
    except ForeignPortal as foreign:
        get_logger().warning(
            {
                "event": "foreign_portal",
                "entry": entry,
                "portal_id": foreign.received,
                "configured_portal_id": foreign.configured,
            }
        )
        return foreign_portal(foreign)
    return None


def not_configured() -> HttpResponse:
    return error(503, "not_configured", f"{NOT_CONFIGURED_EN} / {NOT_CONFIGURED_JA}")


def foreign_portal(foreign: ForeignPortal) -> HttpResponse:
    return error(403, "foreign_portal", f"{foreign.en} / {foreign.ja}", portalId=foreign.received)


@dataclass(frozen=True, slots=True)
class PortalMismatch:
    """What is wrong when the access token's portal is not ``HUBSPOT_PORTAL_ID``, and what to do, in English and
    Japanese (both portals named: the operator reads it)."""

    detail_en: str
    detail_ja: str
    fix_en: str
    fix_ja: str

    @property
    def detail(self) -> str:
        return f"{self.detail_en} / {self.detail_ja}"

    @property
    def fix(self) -> str:
        return f"{self.fix_en} / {self.fix_ja}"


def token_portal_problem(token_portal: int, configured: int | None) -> PortalMismatch | None:
    """What is wrong (and what to do) when the access token's portal is not ``HUBSPOT_PORTAL_ID``; None when they
    agree. For ``doctor`` and ``setup hubspot``."""
    if configured is None:
        return PortalMismatch(
            f"HUBSPOT_PORTAL_ID is not set; the access token belongs to portal {token_portal}",
            f"HUBSPOT_PORTAL_ID が未設定です（アクセストークンのポータルは {token_portal}）",
            f"set HUBSPOT_PORTAL_ID={token_portal} (environment, or hubspot_portal_id in hubspot-freee.toml)",
            f"HUBSPOT_PORTAL_ID={token_portal} を設定してください（環境変数、または hubspot-freee.toml の "
            "hubspot_portal_id）",
        )
    if configured != token_portal:
        return PortalMismatch(
            f"the access token belongs to portal {token_portal} but HUBSPOT_PORTAL_ID is {configured}: every "
            f"request for portal {configured} would read and write portal {token_portal}",
            f"アクセストークンのポータル（{token_portal}）と HUBSPOT_PORTAL_ID（{configured}）が一致しません",
            f"if this installation serves portal {token_portal}, set HUBSPOT_PORTAL_ID={token_portal}; otherwise "
            f"set HUBSPOT_ACCESS_TOKEN to the private app token of portal {configured}",
            f"このインストールがポータル {token_portal} 用なら HUBSPOT_PORTAL_ID={token_portal} を、そうでなければ "
            f"HUBSPOT_ACCESS_TOKEN をポータル {configured} の非公開アプリのトークンに設定してください",
        )
    return None


__all__ = [
    "PortalMismatch",
    "check_portal",
    "foreign_portal",
    "http_refusal",
    "not_configured",
    "own_portal",
    "token_portal_problem",
]
