"""What a use case needs from the outside world: the ports, named for what they mean."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sdk.clock import Clock

if TYPE_CHECKING:
    from sdk.models.freee import Invoice, InvoiceRequest, Partner, PartnerCreateRequest
    from sdk.models.hubspot import Contact, DealBundle
    from sdk.settings import Settings
    from sdk.store import Store


class HubSpotPort(Protocol):
    def read_deal_bundle(
        self, portal_id: int, deal_id: str, *, with_contact: bool, max_line_items: int | None
    ) -> DealBundle: ...

    def read_contact(self, contact_id: str) -> Contact | None: ...

    def won_stages(self) -> frozenset[tuple[str, str]]: ...

    def update_deals(self, updates: Mapping[str, Mapping[str, Any]]) -> Any: ...

    def update_companies(self, updates: Mapping[str, Mapping[str, Any]]) -> Any: ...

    def complete_callback(
        self, callback_id: str, output_fields: Mapping[str, str], typed_outputs: Mapping[str, Any]
    ) -> None: ...


class FreeePort(Protocol):
    company_id: int

    def get_partner_by_code(self, code: str) -> Partner | None: ...

    def search_partners(self, keyword: str, *, offset: int = 0, limit: int = 100) -> list[Partner]: ...

    # ``before_send`` runs right before the write goes out (each time it is sent), after any wait for the rate
    # limit, a back-off or a token refresh: the invoice process renews its lease there, and raises to send nothing
    def create_partner(
        self, request: PartnerCreateRequest, *, before_send: Callable[[], None] | None = None
    ) -> Partner: ...

    def create_invoice(
        self, request: InvoiceRequest, *, before_send: Callable[[], None] | None = None
    ) -> Invoice: ...

    def list_invoices(self, *, offset: int = 0, limit: int = 100, **filters: Any) -> list[Invoice]: ...

    def cancel_invoice(self, invoice_id: int) -> None: ...


@dataclass
class Context:
    settings: Settings
    store: Store
    hubspot: HubSpotPort
    freee: FreeePort
    clock: Clock

    @property
    def lease_seconds(self) -> float:
        """How long a claim on a deal lasts (``invoice_lease_seconds``), from the claim or its last renewal."""
        return self.settings.invoice_lease_seconds

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        """The production wiring: the store named by ``storage_url``, the HubSpot and freee clients over it."""
        from sdk.clock import SystemClock
        from sdk.freee.client import FreeeClient
        from sdk.hubspot import HubSpotClient
        from sdk.store import open_store

        clock = clock or SystemClock()
        store = open_store(settings.storage_url)
        freee = FreeeClient.from_settings(
            settings, token_store=store.tokens, rate_store=store.rate_limits, clock=clock
        )
        hubspot = HubSpotClient.from_settings(settings, clock=clock, token_store=store.hubspot_tokens)
        return cls(settings, store, hubspot, freee, clock)

    def now(self) -> datetime:
        return self.clock.now()

    def remember(self, portal_id: int, deal_id: str, event: str, trigger: str, **detail: Any) -> None:
        """Append to the deal's history (the audit trail ``invoice show`` prints)."""
        from sdk.store import HistoryEvent

        self.store.append_history(portal_id, deal_id, HistoryEvent(self.now(), event, trigger, detail))
