"""A stateful, in-memory HubSpot portal as a Flask WSGI app, for tests, benchmarks and the demo.

It answers the parts of HubSpot's public API this project uses, in HubSpot's JSON shapes, so the official
``hubspot-api-client`` deserializes its answers into its own models (checked in
``tests/contract/test_hubspot_sandbox_contract.py``):

* CRM objects v3 (deals, companies, contacts, line_items): get, list, create, update, archive, batch
  read/update/create (≤ 100 inputs), search (filter groups, sorts, ``after`` paging, ``total``).
* Associations v4 (read one, batch read, create default) with HubSpot's type ids (deal → company primary 5,
  unlabeled 341; deal → contact 3; deal → line item 19), also shown in the v3 ``?associations=`` answer.
* Deal pipelines, properties and property groups (HubSpot's standard properties are seeded; writing an unknown
  property is refused with ``PROPERTY_DOESNT_EXIST`` as HubSpot does; a line item's recurring billing, its
  frequency, term, start and calculated number of payments, as ``specs/hubspot/recurring-line-items.md`` records
  them; a ``date`` value is kept as ``YYYY-MM-DD`` and one that is not midnight UTC refused), workflow action callbacks (single and
  batch; ``outputFields`` and ``typedOutputs`` required, as HubSpot's current v4 reference has them).
* Custom workflow action definitions v4 (list, create, read, patch) for the app, authenticated as HubSpot's
  current v4 reference lists: an OAuth token of the developer account with ``developers-read`` (to read) and
  ``developers-write`` (to write); the developer API key (``?hapikey=``) only when the sandbox is made with one
  (the legacy way). Every field that reference marks required is checked (an output field's ``options``,
  ``externalOptions``, ``schema``, ``useChirp``; every option's fields), all problems in one 400.
* Account information (``GET /account-info/v3/details`` and its date-versioned twin): the portal the token
  belongs to (``portal_id`` of :func:`create_hubspot_sandbox`), in HubSpot's documented shape.
* A public app's OAuth (:mod:`~sandbox.hubspot.oauth`): installing it gives a refresh token, ``POST
  /oauth/v1/token`` (``grant_type=refresh_token``) answers an access token that expires after 30 minutes on the
  sandbox clock (then 401 ``EXPIRED_AUTHENTICATION``), uninstalling revokes the refresh tokens
  (``BAD_REFRESH_TOKEN``). The private app's static token (``access_token``) is accepted beside them, never expiring.
* Bearer auth, the ten-secondly rolling rate limit on the sandbox clock (429 body and ``X-HubSpot-RateLimit-*``
  headers), fault injection (:mod:`sandbox.faults`).
* The app's webhook settings and subscriptions (webhooks API v3, ``/webhooks/v3/{appId}/settings`` and
  ``.../subscriptions``, developer API key): the target URL is where the dispatcher delivers, and a fresh sandbox
  is subscribed (active) to ``deal.propertyChange`` on ``dealstage``; pausing it stops the events
  (:mod:`~sandbox.hubspot.subscriptions`).
* App webhooks: a deal's ``dealstage`` change enqueues a ``deal.propertyChange`` event; a dispatcher thread
  POSTs batches signed with ``X-HubSpot-Signature-v3`` and retries on time-outs, 429 and 5xx with growing delays
  on the sandbox clock (never after another 4xx), optionally delivering a batch twice.
* An admin API under ``/_sandbox`` (no auth): ``POST deals/{id}/stage``, ``GET webhooks``,
  ``POST webhooks/config``, ``POST oauth/install``, ``POST oauth/uninstall``, ``POST oauth/expire``, and those both
  sandboxes share (:func:`sandbox.admin.install_admin`): ``POST reset``, ``POST seed``, ``GET state`` and the fault
  endpoints; the same operations as Python methods on :class:`HubSpotSandbox`.

Served on loopback (``sandbox.transport.serve(sandbox.app)``) for the official client, which speaks urllib3.

The package: :mod:`~sandbox.hubspot.app` (the sandbox, its request hooks, :func:`create_hubspot_sandbox`),
:mod:`~sandbox.hubspot.routes` (the endpoints), :mod:`~sandbox.hubspot.state` (what the portal holds) with
:mod:`~sandbox.hubspot.search` and :mod:`~sandbox.hubspot.actions` (workflow action definitions),
:mod:`~sandbox.hubspot.webhooks`, :mod:`~sandbox.hubspot.oauth`, :mod:`~sandbox.hubspot.subscriptions`,
:mod:`~sandbox.hubspot.catalog` (standard properties and pipelines), :mod:`~sandbox.hubspot.recurring` (line items'
recurring billing),
:mod:`~sandbox.hubspot.demo_world`, :mod:`~sandbox.hubspot.facts` and :mod:`~sandbox.hubspot.errors`.
"""

from sandbox.hubspot.app import HubSpotSandbox, create_hubspot_sandbox
from sandbox.hubspot.catalog import default_pipelines
from sandbox.hubspot.demo_world import demo_world
from sandbox.hubspot.errors import HubSpotApiError
from sandbox.hubspot.facts import OBJECT_TYPES
from sandbox.hubspot.state import ApiCall, CallbackCompletion, HubSpotState
from sandbox.hubspot.webhooks import WebhookDelivery, WebhookRequest, WebhookTarget, sign_v3

__all__ = [
    "OBJECT_TYPES",
    "ApiCall",
    "CallbackCompletion",
    "HubSpotApiError",
    "HubSpotSandbox",
    "HubSpotState",
    "WebhookDelivery",
    "WebhookRequest",
    "WebhookTarget",
    "create_hubspot_sandbox",
    "default_pipelines",
    "demo_world",
    "sign_v3",
]
