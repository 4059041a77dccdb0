"""What the chaos storm adds so it can see the races of issue 14, and the checks that look for them.

The storm of :mod:`tests.chaos.harness` never showed a worker past its lease still creating, nor a marker lookup
missing an invoice listed after its first page: it ran with freee's rate limit off, freee listed few invoices per
partner and billing date (newest first), and nothing waited long enough for a lease to expire mid-call. Here:

* :class:`FreeeLimits` — freee's real limits (the settings' 30 a minute, 1,500 an hour) enforced by the sandbox
  *and* kept by every client's shared limiter, on the scaled clock, switched on for the storm and off after it;
  the sandbox's own refusals are counted (a shared limiter that lets too much through shows there).
* :class:`ScaledTimeouts` — ``freee_timeout_seconds`` is a setting in clock seconds like the lease it is compared
  with; on the scaled clock the HTTP time-out must be real seconds, so the session divides it by the speed.
* :func:`preseed_invoices` — a crowd: invoices of other deals of one partner on one billing date, made before the
  storm, so a lookup that reads only the first page of freee's list (oldest first or shuffled) misses the one.
* :class:`StatusLog` — every ``freee_sync_status`` written to a deal, in order, so a status that went backwards
  (``failed`` / ``invalid`` after ``created``) is seen even when a later write hid it.
* :func:`check_races` — 0 orphans (counted from freee's own invoices and the ledger, not from the store's orphan
  list), no deal showing failed or invalid while its invoice exists, no status gone backwards, the crowd's other
  invoices untouched.

The stalls (a worker that stalls past its lease after a marker lookup and then goes on to create: the zombie), the
pauses before a failure is written onto a deal and the lost answers of a crowd's invoices live beside the kills in
:class:`tests.chaos.standins.KillSwitch`; the late answers are the sandbox's latency faults
(:meth:`tests.chaos.harness.Stand.late_answers`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from sdk.billing.units import Unit, parse_marker
from sdk.freee.ratelimit import RateLimiter, Window

if TYPE_CHECKING:
    from sandbox.freee import FreeeSandbox
    from sdk.clock import Clock
    from sdk.freee.client import FreeeClient
    from sdk.settings import Settings
    from tests.chaos.harness import Report, Stand

#: the sandbox's limits while freee's are lifted (today's chaos profile: effectively off)
LIFTED_SANDBOX: tuple[Window, ...] = ((1_000_000, 60.0), (10_000_000, 3600.0))
#: the clients' while lifted: one short window, so a shared call log stays small
LIFTED_CLIENT: tuple[Window, ...] = ((1_000_000, 60.0),)
#: the freee reads a worker may stall after (holding their answer: the marker lookup found nothing, say), before
#: it goes on to create. Never around a write: the invoice process renews its lease right before each write goes
#: out, and a stall after that renewal is one no lease can guard against
FREEE_READS = frozenset({"list_invoices", "iter_invoices", "get_invoice"})
#: deal ids the crowd's other invoices carry (deals of the same portal that are not in the storm)
OTHER_DEALS_FROM = 9_000_000_000


class ScaledTimeouts(requests.Session):
    """A session whose time-outs, given in clock seconds, are waited in real ones (divided by the clock's speed)."""

    def __init__(self, speed: float) -> None:
        super().__init__()
        self.speed = speed

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        timeout = kwargs.get("timeout")
        if isinstance(timeout, int | float):
            kwargs["timeout"] = timeout / self.speed
        elif isinstance(timeout, tuple):
            kwargs["timeout"] = tuple(t / self.speed if t else t for t in timeout)
        return super().request(method, url, *args, **kwargs)


class FreeeLimits:
    """freee's rate limits, real or lifted, on the sandbox and on every client made so far (and any made later)."""

    def __init__(self, box: FreeeSandbox, settings: Settings, clock: Clock, report: Report) -> None:
        self.box, self.clock, self.report = box, clock, report
        self.windows: tuple[Window, ...] = (
            (settings.freee_rate_limit_per_minute, 60.0),
            (settings.freee_rate_limit_per_hour, 3600.0),
        )
        self.real = False
        self.clients: list[FreeeClient] = []
        self.lock = threading.Lock()
        limiter = box.state.limiter
        decide = limiter.decide

        def counted(now: float) -> Any:  # called under the sandbox's lock
            verdict = decide(now)
            if self.real:
                report.note("freee calls under its real limits")
                if verdict.status != 200:
                    report.note(f"freee calls refused by its own rate limit ({verdict.status})")
            return verdict

        limiter.decide = counted  # type: ignore[method-assign]
        self._apply_sandbox()

    def track(self, client: FreeeClient) -> FreeeClient:
        with self.lock:
            self.clients.append(client)
            self._apply_client(client)
        return client

    def switch(self, *, real: bool) -> None:
        with self.lock:
            self.real = real
            self._apply_sandbox()
            for client in self.clients:
                self._apply_client(client)

    def _apply_sandbox(self) -> None:
        state = self.box.state
        with state.lock:
            state.limiter.windows = self.windows if self.real else LIFTED_SANDBOX
            state.limiter.reset()  # the set-up's calls (the crowd's invoices) are not the storm's

    def _apply_client(self, client: FreeeClient) -> None:
        windows = self.windows if self.real else LIFTED_CLIENT
        client.limiter.windows = RateLimiter(client.limiter.store, self.clock, windows).windows


def preseed_invoices(
    box: FreeeSandbox,
    *,
    company_id: int,
    partner_id: int,
    billing_date: date,
    count: int,
    portal_id: int,
    first_deal: int,
) -> set[int]:
    """``count`` invoices to ``partner_id`` billed on ``billing_date``, each carrying the marker of another deal of
    the portal (not one of the storm's), made through freee's API before the storm; returns their ids."""
    token = box.issue_tokens()["access_token"]
    made: set[int] = set()
    with box.app.test_client() as http:
        for n in range(count):
            body = {
                "company_id": company_id,
                "billing_date": billing_date.isoformat(),
                "payment_date": (billing_date + timedelta(days=30)).isoformat(),
                "tax_entry_method": "out",
                "tax_fraction": "omit",
                "withholding_tax_entry_method": "out",
                "partner_id": partner_id,
                "partner_title": "御中",
                "subject": f"既存案件 {n}",
                "memo": Unit.deal(str(first_deal + n)).marker(portal_id),
                "lines": [
                    {
                        "type": "item",
                        "description": "保守",
                        "quantity": 1,
                        "unit_price": "10000",
                        "tax_rate": 10,
                    }
                ],
            }
            answer = http.post("/iv/invoices", json=body, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 201, answer.get_data(as_text=True)
            made.add(int(answer.get_json()["invoice"]["id"]))
    return made


@dataclass
class StatusLog:
    """Every ``freee_sync_status`` the HubSpot sandbox stored on a deal, in the order it stored them."""

    written: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)

    @classmethod
    def observe(cls, state: Any, prop: str, clock: Clock) -> StatusLog:
        log = cls()
        apply: Callable[..., Any] = state._apply

        def observed(object_type: str, obj: Any, values: Any, *args: Any, **kwargs: Any) -> Any:
            if object_type == "deals" and prop in values:  # under the sandbox's lock: in the order stored
                log.written.setdefault(str(obj.id), []).append((clock.now(), str(values[prop] or "")))
            return apply(object_type, obj, values, *args, **kwargs)

        state._apply = observed
        return log

    def backwards(self) -> Iterable[tuple[str, str, datetime]]:
        """(deal, status, when) for each ``failed`` / ``invalid`` written after the deal showed ``created``."""
        for deal, writes in self.written.items():
            created = False
            for at, status in writes:
                if status == "created":
                    created = True
                elif created and status in ("failed", "invalid"):
                    yield deal, status, at


def check_races(stand: Stand, deals: list[str], report: Report) -> None:
    """0 orphans, no deal failed or invalid while its invoice exists, no status gone backwards, the crowd's other
    invoices untouched."""
    names = stand.settings.properties
    known = set(deals)
    orphans = 0
    invoiced: set[str] = set()
    for invoice in stand.freee_box.invoices():
        if invoice["id"] in stand.preseeded:
            if invoice["cancel_status"] == "canceled":
                report.problems.append(
                    f"invoice {invoice['id']} of another deal (made before the storm) was cancelled"
                )
            continue
        marker = parse_marker(invoice.get("memo"))
        if marker is None or marker[1] not in known:
            continue  # the main check reports it
        if invoice["cancel_status"] != "canceled":
            invoiced.add(marker[1])
        row = stand.store.get_ledger(marker[0], marker[1])
        recorded = row.invoice.invoice_id if row is not None and row.invoice is not None else None
        if invoice["id"] != recorded:
            orphans += 1
            crowd = " (a crowd's deal)" if stand.deal_company.get(marker[1]) in stand.crowd_companies else ""
            steps = ", ".join(e.event for e in stand.store.history(marker[0], marker[1]))
            report.problems.append(
                f"orphan: invoice {invoice['id']} ({invoice['invoice_number']}) carries deal {marker[1]}'s marker"
                f"{crowd}; the deal's recorded invoice is {recorded}; its history: {steps}"
            )
    report.note("orphans", orphans)
    if callable(getattr(stand.store.inner, "orphans", None)):  # the store's own list, beside ours
        report.note("orphans the store recorded", len(stand.store.orphans()))
    failing = 0
    for deal in sorted(invoiced):
        status = stand.hubspot_box.properties_of("deals", deal).get(names.deal_sync_status)
        if status in ("failed", "invalid"):
            failing += 1
            report.problems.append(f"deal {deal} shows {status} while its invoice exists")
    report.note("deals failed/invalid with an invoice", failing)
    went_back = 0
    for deal, status, at in stand.status_log.backwards():
        went_back += 1
        report.problems.append(f"deal {deal} was shown {status} at {at.isoformat()} after it showed created")
    report.note("statuses gone backwards", went_back)
