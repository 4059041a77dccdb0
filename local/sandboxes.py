"""The sandboxes as this package sees them: the settings that point it at sandboxes served at given URLs, and
what the operator's setup steps leave behind in them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox import CREDENTIALS, DEVELOPER_CREDENTIALS, PORTAL_ID

if TYPE_CHECKING:
    from sandbox.freee import FreeeSandbox
    from sdk.clock import Clock
    from sdk.freee.tokens import TokenStore
    from sdk.settings import Settings
    from sdk.usecases.setup_hubspot import PropertyReader, PropertySetup


def sandbox_env(freee_url: str, hubspot_url: str) -> dict[str, str]:
    """The settings (as environment variables) that point this package at sandboxes served at these URLs."""
    return {
        "FREEE_API_BASE": freee_url,
        "FREEE_AUTH_BASE": freee_url,
        "FREEE_COMPANY_ID": "1",
        "HUBSPOT_API_BASE": hubspot_url,
        "HUBSPOT_PORTAL_ID": str(PORTAL_ID),
    } | CREDENTIALS


def operator_env(freee_url: str, hubspot_url: str) -> dict[str, str]:
    """Every setting an operator's next steps need against sandboxes served at these URLs: :func:`sandbox_env`
    and the app id, developer key and custom-code secret (``actions register``, the custom-code snippets)."""
    return sandbox_env(freee_url, hubspot_url) | DEVELOPER_CREDENTIALS


def sandbox_settings(freee_url: str, hubspot_url: str, **overrides: Any) -> Settings:
    """:class:`~sdk.settings.Settings` for sandboxes served at these URLs; ``overrides`` as ``load_settings``."""
    from sdk.settings import load_settings

    given = {name.lower(): value for name, value in sandbox_env(freee_url, hubspot_url).items()}
    return load_settings(**(given | overrides))


def install(
    freee: FreeeSandbox, hubspot: PropertyReader, settings: Settings, tokens: TokenStore, clock: Clock
) -> PropertySetup:
    """What the operator's ``setup hubspot`` and ``setup freee`` leave behind, done against the sandboxes: every
    property created in HubSpot (through ``hubspot``), and a freshly granted freee token pair in ``tokens``."""
    from sdk.freee.tokens import TokenSet
    from sdk.usecases.setup_hubspot import setup_hubspot_properties

    report = setup_hubspot_properties(hubspot, settings, dry_run=False)
    granted = TokenSet.from_grant(freee.issue_tokens(), clock.now(), company_id=settings.freee_company_id)
    tokens.save_token(granted, None)
    return report
