"""Stateful HubSpot and freee sandboxes (Flask WSGI apps) with fault injection and a scalable clock.

Used three ways: mounted into ``requests`` inside tests (:mod:`sandbox.transport`), served on loopback
(:func:`sandbox.transport.serve`) for the official HubSpot client, the demo and end-to-end tests, and reset or
seeded through each sandbox's ``/_sandbox`` admin API. The settings that point this package at them, and the
wiring of the whole loop around them, are in :mod:`local`.
"""

from __future__ import annotations

PORTAL_ID = 24681357
#: the sandboxes' well-known credentials (defaults of ``create_freee_sandbox`` / ``create_hubspot_sandbox``):
#: test values, not secrets
CREDENTIALS = {
    "FREEE_CLIENT_ID": "sandbox-client-id",
    "FREEE_CLIENT_SECRET": "sandbox-client-secret",
    "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
    "HUBSPOT_DEVELOPER_ACCESS_TOKEN": "sandbox-hubspot-developer-token",  # action definitions (app 4242)
    "HUBSPOT_CLIENT_SECRET": "sandbox-hubspot-client-secret",
}
APP_ID = 4242
#: what the operator's next steps need beyond the settings above (``actions register``, the custom-code snippets)
DEVELOPER_CREDENTIALS = {
    "HUBSPOT_APP_ID": str(APP_ID),
    "CUSTOM_CODE_SECRET": "sandbox-custom-code-secret",
}
