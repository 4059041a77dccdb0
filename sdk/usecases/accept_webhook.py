"""A HubSpot webhook delivery → one queue message per deal that needs work. Fast: no HubSpot or freee call but
the (cached) pipelines.

Kept: ``dealstage`` changes to a won stage, and stage changes of deals already invoiced (the worker flags a deal
that left its won stage). Dropped: events already seen (by ``eventId``), other properties and object types, and
events of another portal than ``portal_id`` (the tenant boundary, :mod:`sdk.tenant`: counted in ``foreign``,
never queued nor marked seen; the handler refuses a delivery that has none of ours).
Events are marked seen only *after* their message is queued: a crash in between means a redelivery queues the
deal again, which the worker's exactly-once rule absorbs, whereas marking first could lose the deal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sdk.pipelines import is_won_stage
from sdk.queue import InvoiceJob
from sdk.store import EventLog, LedgerReads, LedgerState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sdk.clock import Clock
    from sdk.models.hubspot import WebhookEvent

KEEP_EVENT_IDS = timedelta(days=3)  # HubSpot retries a delivery for about a day


class WebhookStore(EventLog, LedgerReads, Protocol):
    """What accepting a batch needs of the store: the seen events, and the ledger to tell an invoiced deal."""


class MessageSink(Protocol):
    def send(self, body: dict[str, Any], *, delay: float = 0) -> str: ...

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> list[str]: ...


@dataclass
class Accepted:
    queued: list[str] = field(default_factory=list)  # deal ids
    duplicates: int = 0
    ignored: int = 0
    foreign: int = 0  # events of another portal, dropped


def event_key(event: WebhookEvent) -> str:
    return f"hubspot:{event.portal_id}:{event.event_id}"


def accept_webhook_batch(
    events: Sequence[WebhookEvent],
    *,
    won: frozenset[tuple[str, str]],
    store: WebhookStore,
    queue: MessageSink,
    clock: Clock,
    portal_id: int,
) -> Accepted:
    now = clock.now()
    accepted = Accepted()
    per_deal: dict[tuple[int, str], list[WebhookEvent]] = {}
    ours = [e for e in events if e.portal_id == portal_id]
    accepted.foreign = len(events) - len(ours)
    stage_changes = [e for e in ours if e.is_deal_stage_change]
    accepted.ignored += len(ours) - len(stage_changes)
    seen = store.seen_any((event_key(e) for e in stage_changes), now)
    for event in stage_changes:
        if event_key(event) in seen:
            accepted.duplicates += 1
            continue
        deal_id = str(event.object_id)
        relevant = is_won_stage(None, event.property_value, won) or _invoiced(store, event.portal_id, deal_id)
        if not relevant:
            accepted.ignored += 1
            continue
        per_deal.setdefault((event.portal_id, deal_id), []).append(event)
    if per_deal:
        queue.send_many(
            [
                InvoiceJob(
                    portal_id=portal_id,
                    deal_id=deal_id,
                    trigger="webhook",
                    event_ids=tuple(e.event_id for e in deal_events),
                ).body()
                for (portal_id, deal_id), deal_events in per_deal.items()
            ]
        )
        store.record_sightings(
            (event_key(e) for deal_events in per_deal.values() for e in deal_events),
            now,
            now + KEEP_EVENT_IDS,
        )
        accepted.queued.extend(deal_id for _, deal_id in per_deal)
    return accepted


def _invoiced(store: LedgerReads, portal_id: int, deal_id: str) -> bool:
    row = store.get_ledger(portal_id, deal_id)
    return row is not None and row.state is LedgerState.CREATED
