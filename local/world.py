"""A whole world for use-case and end-to-end tests, and for benchmarks of one use case: both sandboxes, the real
clients, a store and a clock (a fake one unless given).

HubSpot is served on loopback (the official client speaks urllib3); freee is mounted in-process at
:data:`FREEE_BASE`. No server, no worker: the tests call the handlers and use cases themselves (for the whole loop
on loopback, see :mod:`local.loop`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from local.sandboxes import install, sandbox_env
from sandbox import CREDENTIALS, PORTAL_ID
from sandbox.freee import FreeeSandbox, create_freee_sandbox
from sandbox.hubspot import HubSpotSandbox, create_hubspot_sandbox
from sandbox.transport import ServedApp, WSGIAdapter, serve
from sdk.clock import Clock, FakeClock
from sdk.freee.client import FreeeClient, RetryPolicy
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import RateLimiter
from sdk.hubspot import CallCounter, HubSpotClient
from sdk.settings import Settings, load_settings
from sdk.store import Store
from sdk.usecases.context import Context

FREEE_BASE = "http://freee.sandbox"
HUBSPOT_TOKEN = CREDENTIALS["HUBSPOT_ACCESS_TOKEN"]


@dataclass
class World:
    clock: Clock
    store: Store
    hubspot_box: HubSpotSandbox
    freee_box: FreeeSandbox
    served: ServedApp
    settings: Settings
    hubspot: HubSpotClient
    freee: FreeeClient
    counter: CallCounter
    freee_calls: list[str] = field(default_factory=list)

    def context(self, **overrides: Any) -> Context:
        return Context(
            settings=overrides.pop("settings", self.settings),
            store=overrides.pop("store", self.store),
            hubspot=overrides.pop("hubspot", self.hubspot),
            freee=overrides.pop("freee", self.freee),
            clock=self.clock,
            **overrides,
        )

    def company(self, name: str = "株式会社サンプル商事", **props: Any) -> str:
        return self.hubspot_box.create_company(name=name, **props)

    def contact(
        self, lastname: str = "山田", firstname: str = "太郎", email: str = "taro@example.co.jp"
    ) -> str:
        return self.hubspot_box.create_contact(lastname=lastname, firstname=firstname, email=email)

    def deal(
        self,
        *,
        company: str | None,
        line_items: list[dict[str, Any]] | None = None,
        contact: str | None = None,
        stage: str = "closedwon",
        **props: Any,
    ) -> str:
        properties = {
            "dealname": "【受注】会計導入支援",
            "closedate": "2026-11-20T03:00:00Z",
            "pipeline": "default",
            "dealstage": stage,
        } | props
        return self.hubspot_box.create_deal(
            company=company,
            contacts=[contact] if contact else [],
            line_items=[{k: str(v) for k, v in item.items()} for item in (line_items or [])],
            **{k: v for k, v in properties.items() if v is not None},
        )

    def deal_props(self, deal_id: str) -> dict[str, str | None]:
        return self.hubspot_box.properties_of("deals", deal_id)

    def company_props(self, company_id: str) -> dict[str, str | None]:
        return self.hubspot_box.properties_of("companies", company_id)

    def invoices(self) -> list[dict[str, Any]]:
        return list(self.freee_box.invoices())

    def partners(self) -> list[dict[str, Any]]:
        return list(self.freee_box.partners())

    def freee_client(self, session: requests.Session | None = None) -> FreeeClient:
        """Another freee client (another worker) on the same sandbox, store and limits."""
        return _freee_client(self.freee_box, self.store, self.clock, self.freee_calls, session)

    def close(self) -> None:
        self.served.stop()
        self.hubspot_box.close()


def _freee_client(
    box: FreeeSandbox, store: Store, clock: Clock, calls: list[str], session: requests.Session | None = None
) -> FreeeClient:
    session = session or requests.Session()
    session.hooks["response"].append(
        lambda r, *a, **k: calls.append(f"{r.request.method} {r.request.path_url.split('?')[0]}")
    )
    return mounted_freee_client(box, store, clock, session=session)


def mounted_freee_client(
    box: FreeeSandbox,
    store: Store,
    clock: Clock,
    *,
    session: requests.Session | None = None,
    client_id: str = CREDENTIALS["FREEE_CLIENT_ID"],
    client_secret: str = CREDENTIALS["FREEE_CLIENT_SECRET"],
    per_minute: int = 1000,
    max_attempts: int = 4,
) -> FreeeClient:
    """A freee client for ``box`` mounted in-process at :data:`FREEE_BASE` (over ``session``), its tokens and its
    rate log (``per_minute`` calls) in ``store``."""
    session = session or requests.Session()
    session.mount(FREEE_BASE, WSGIAdapter(box.app))
    oauth = OAuthClient(
        auth_base=FREEE_BASE,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri="urn:ietf:wg:oauth:2.0:oob",
        session=session,
        clock=clock,
    )
    return FreeeClient(
        api_base=FREEE_BASE,
        company_id=1,
        tokens=TokenManager(store.tokens, oauth, clock),
        limiter=RateLimiter(store.rate_limits, clock, ((per_minute, 60.0),)),
        clock=clock,
        session=session,
        retry=RetryPolicy(max_attempts=max_attempts),
    )


def build_world(
    store: Store, *, clock: Clock | None = None, auto_register_deals: bool = True, **settings: Any
) -> World:
    """``auto_register_deals=False``: freee registers an invoice's accounting deal only when it is paid or
    registered by hand (``world.freee_box.register_deal``). The installation's portal (``hubspot_portal_id``) is
    the sandbox's, :data:`sandbox.PORTAL_ID`, unless ``settings`` say otherwise (``None``: not configured)."""
    clock = clock or FakeClock()
    hubspot_box = create_hubspot_sandbox(clock=clock, access_token=HUBSPOT_TOKEN)
    freee_box = create_freee_sandbox(
        clock=clock,
        rate_limit_per_minute=1000,
        rate_limit_per_hour=100000,
        auto_register_deals=auto_register_deals,
    )
    served = serve(hubspot_box.app)
    config = load_settings(
        hubspot_api_base=served.url,
        hubspot_access_token=HUBSPOT_TOKEN,
        freee_api_base=FREEE_BASE,
        freee_auth_base=FREEE_BASE,
        freee_client_id=CREDENTIALS["FREEE_CLIENT_ID"],
        freee_client_secret=CREDENTIALS["FREEE_CLIENT_SECRET"],
        freee_company_id=1,
        **({"hubspot_portal_id": PORTAL_ID} | settings),
    )
    counter = CallCounter()
    hubspot = HubSpotClient.from_settings(config, metrics=counter, clock=clock)
    install(freee_box, hubspot, config, store.tokens, clock)
    calls: list[str] = []
    freee = _freee_client(freee_box, store, clock, calls)
    world = World(clock, store, hubspot_box, freee_box, served, config, hubspot, freee, counter, calls)
    counter.reset()
    return world


def cli_env(world: World, freee_url: str, store_path: Any, **extra: str) -> dict[str, str]:
    """The environment that points the CLI at this world: served sandboxes (freee served at ``freee_url``) and the
    world's SQLite store. No HubSpot client secret, as in the world's own settings."""
    env = sandbox_env(freee_url, world.served.url)
    del env["HUBSPOT_CLIENT_SECRET"]
    return env | {"STORAGE_URL": f"sqlite:///{store_path}", "LOG_LEVEL": "ERROR"} | extra
