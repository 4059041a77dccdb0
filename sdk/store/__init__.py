"""The store port: the ledger (one row per billing unit: a HubSpot deal billed once, one period of a deal's billing
schedule, or a company's consolidated invoice), the billing schedule of each deal billed per period, company ↔
partner links, seen webhook events, an append-only history per deal, and (through ``tokens`` / ``hubspot_tokens`` /
``rate_limits``) the freee token row, the HubSpot token row of a public app, and the shared rate-limit log.

:class:`Store` is made of role ports (:class:`Ledger`, :class:`Orphans`, :class:`Schedules`, :class:`PartnerLinks`,
:class:`EventLog`, :class:`History`, :class:`Waiters`, :class:`Leases`, :class:`Rollups`, and the freee ports
:class:`~sdk.freee.tokens.TokenStore` and :class:`~sdk.freee.ratelimit.RateLimitStore`), so a use case that needs
one role asks for that one. Two adapters implement them all and pass one test suite (``tests/store``):
:class:`sdk.store.sqlite.SQLiteStore` (embedded default, one machine, several processes) and
:class:`sdk.store.dynamodb.DynamoStore` (AWS, single table, conditional writes, TTL). :func:`open_store` picks one
from the ``storage_url`` setting.

A workflow action that answered BLOCK on a busy deal leaves a *waiter* (its callback id) under the deal: whoever
reaches the deal's outcome takes the waiters and completes them (:mod:`sdk.usecases.waiters`).

The payment sync adds a named lease (one sync at a time) and, per company, the rollup values last written to
HubSpot (the ledger row's ``written`` plays that part for deals), so a sync writes only what changed.

Exactly one invoice per deal rests on :meth:`Ledger.claim`: a conditional write that lets one worker at a time
create a deal's invoice, with a lease so a crashed worker's claim expires (DESIGN §3). Every ledger transition is
conditioned on the state it leaves (:data:`CLAIMABLE`, :data:`HELD`, :data:`CANCELLABLE`, defined here once for both
adapters): a row that is ``created`` changes only by :meth:`Ledger.record_written` and
:meth:`Ledger.mark_cancelled`, so a status written to a deal never goes backwards.

The holder renews the lease (:meth:`Ledger.renew_claim`) right before each freee write, and an invoice freee created
for an attempt that had lost its claim anyway is kept in the orphan list (:meth:`Orphans.record_orphan`) for a
person to cancel in freee (:mod:`sdk.usecases.orphans`).

The ledger's key (``deal_id``) is a *billing unit*, any string: ``"456"`` (deal 456, billed once), ``"456:3"``
(period 3 of deal 456's schedule), ``"c789:2027-01-31"`` (company 789's consolidated invoice for the window closing
2027-01-31); the store gives it no meaning. A deal billed per period keeps one :class:`ScheduleRow` (its plan, as
:mod:`sdk.billing` keeps it, opaque here), saved by an optimistic write on its version
(:meth:`Schedules.save_schedule`); :meth:`Schedules.due_schedules` reads the active ones due by a date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from sdk.errors import Problem

if TYPE_CHECKING:
    from sdk.freee.ratelimit import RateLimitStore
    from sdk.freee.tokens import TokenStore


class LedgerState(StrEnum):
    CREATING = "creating"
    CREATED = "created"
    INVALID = "invalid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"
    """The deal is billed by its schedule: its invoices are on its periods' rows (``deal:period``), or on its
    company's consolidated invoices; this row keeps what the deal shows (``written``) and never holds an invoice."""


#: the states :meth:`Ledger.claim` takes a row from (once no live lease holds it); never created or cancelled
CLAIMABLE: tuple[LedgerState, ...] = (LedgerState.CREATING, LedgerState.FAILED, LedgerState.INVALID)
#: the state every write of a claim holder leaves (:meth:`Ledger.note_intent`, :meth:`Ledger.renew_claim`,
#: :meth:`Ledger.record_invoice`, :meth:`Ledger.record_failure`)
HELD = LedgerState.CREATING
#: the state :meth:`Ledger.mark_cancelled` leaves (for :data:`LedgerState.CANCELLED`)
CANCELLABLE = LedgerState.CREATED
#: the states :meth:`Ledger.record_failure` may move a row to (from :data:`HELD`)
FAILURES = frozenset({LedgerState.INVALID, LedgerState.FAILED})


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """What freee answered for a deal's invoice, as the ledger keeps it."""

    invoice_id: int
    invoice_number: str
    invoice_url: str
    partner_id: int
    amount_net: int
    amount_tax: int
    amount_total: int
    billing_date: date
    due_date: date | None
    accounting_deal_id: int | None = None
    """freee's accounting deal (取引) for the invoice, once the payment sync has seen it registered."""
    last_payment_date: date | None = None
    """The date of the invoice's latest payment, as the payment sync last read it from freee (the company's
    ``freee_last_payment_date`` is the latest of these; a partly paid invoice has one but no paid date)."""


@dataclass(frozen=True, slots=True)
class LedgerRow:
    portal_id: int
    deal_id: str
    state: LedgerState
    version: int
    attempts: int = 0
    claim_token: str | None = None
    claim_until: datetime | None = None
    company_id: str | None = None
    partner_id: int | None = None
    billing_date: date | None = None
    invoice: InvoiceRecord | None = None
    written: Mapping[str, str] = field(default_factory=dict)
    last_error: str | None = None
    updated_at: datetime | None = None
    intents: tuple[tuple[int, date], ...] = ()
    """Every (partner, billing date) any attempt noted (:meth:`Ledger.note_intent`), sorted: where an invoice whose
    answer was lost may be. ``partner_id`` / ``billing_date`` are the latest of them (or the invoice's)."""
    reasons: tuple[Problem, ...] = ()
    """Why the last attempt ended without an invoice (:attr:`Failure.reasons`), in words a sales rep can act on;
    cleared when the invoice is recorded."""
    warnings: tuple[Problem, ...] = ()
    """What validation warned about the deal's invoice (:attr:`Intent.warnings`): it can be made, but a rep
    should look (the deal amount differs from the line items, …)."""
    charges: tuple[tuple[str, int], ...] = ()
    """A consolidated invoice's row: the units it bills (``deal`` or ``deal:period`` keys) and each one's share of
    its total in yen, oldest first, as the attempt noted them before creating it (:attr:`Intent.charges`)."""

    def claimed(self, now: datetime) -> bool:
        return self.claim_token is not None and self.claim_until is not None and self.claim_until > now


class ScheduleState(StrEnum):
    ACTIVE = "active"  # periods still to bill
    STOPPED = "stopped"  # stopped by a person / the deal (moved out of won, subscription cancelled): no more periods
    ENDED = "ended"  # every period of a fixed term billed


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """A deal's billing schedule (one invoice per period), one row per deal. The periods it bills are ledger rows
    keyed by their billing unit (``"{deal}:{period}"``, or the company's consolidated ``"c{company}:{date}"``)."""

    portal_id: int
    deal_id: str
    state: ScheduleState
    plan: Mapping[str, Any]
    """The schedule as :mod:`sdk.billing` keeps it: JSON-able, opaque to the store (kept as JSON, read back as
    JSON reads it: a tuple comes back a list)."""
    next_due: date | None = None
    """The billing date of the first period not yet invoiced; None when none is left."""
    company_id: str | None = None
    consolidated: bool = False
    """Billed on the company's consolidated (合算) invoice."""
    note: str = ""
    """Why it stopped (ja / en text), shown on the deal and in ``billing show``."""
    version: int = 0
    """0: never saved; each save moves it by one."""
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to :meth:`Ledger.claim`: whether this worker holds the deal, and the row as it now stands.

    ``resumed`` is true when the row existed before (an expired claim, a failed or invalid attempt): an invoice
    may already exist in freee and must be looked for by its marker before creating one.
    """

    granted: bool
    row: LedgerRow
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class OrphanInvoice:
    """An invoice freee created for a deal by an attempt that had lost its claim by the time freee answered: the
    deal's invoice is (or will be) another one, so this is a second invoice for one deal, which a person cancels in
    freee. Kept until resolved (cancelled in freee, or found to be the deal's own invoice after all)."""

    portal_id: int
    deal_id: str
    invoice_id: int
    invoice_number: str
    partner_id: int
    billing_date: date
    amount_total: int
    found_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """Where an attempt is about to create the deal's invoice, for :meth:`Ledger.note_intent`: the HubSpot company,
    and the freee partner and billing date under which a later attempt looks for it by its marker."""

    company_id: str
    partner_id: int
    billing_date: date
    warnings: tuple[Problem, ...] = ()
    """What validation warned about the draft, kept on the row (:attr:`LedgerRow.warnings`) for the write-back."""
    charges: tuple[tuple[str, int], ...] = ()
    """A consolidated invoice: the units it bills and their shares (:attr:`LedgerRow.charges`); when given they
    replace the row's, when empty the row's are kept."""


@dataclass(frozen=True, slots=True)
class Failure:
    """How an attempt ended without an invoice, for :meth:`Ledger.record_failure`: ``state`` is one of
    :data:`FAILURES`, ``error`` says why.

    ``error`` is for the operator and the log (it may name an exception); ``reasons`` are what a sales rep reads
    (the deal's ``freee_sync_error``, the balance card), kept on the row (:attr:`LedgerRow.reasons`).

    ``written``: what the attempt wrote onto the deal while it held the claim. ``settle_until`` (``failed`` only):
    the answer to a freee write was lost, so the invoice may exist without showing yet; the row stays claimed until
    then, and the next attempt, after it, reconciles by the marker before creating.
    """

    state: LedgerState
    error: str
    written: Mapping[str, str] = field(default_factory=dict)
    settle_until: datetime | None = None
    reasons: tuple[Problem, ...] = ()

    def __post_init__(self) -> None:
        if self.state not in FAILURES:
            raise ValueError("a failure is invalid or failed")
        if self.settle_until is not None and self.state is not LedgerState.FAILED:
            raise ValueError(
                "only a failed attempt settles: an invalid deal waits for its fix, not for freee"
            )


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    at: datetime
    event: str
    trigger: str
    detail: Mapping[str, Any] = field(default_factory=dict)


class LedgerReads(Protocol):
    """The ledger as read by the balance card, the CLI and the webhook's check for an invoiced deal."""

    def get_ledger(self, portal_id: int, deal_id: str) -> LedgerRow | None: ...

    def get_ledgers(self, portal_id: int, deal_ids: Iterable[str]) -> dict[str, LedgerRow]:
        """The rows of these deals that exist, by deal id: keyed reads in batches (the reconciliation sweep reads a
        page of 200 deals in one or two round trips), never a scan."""
        ...

    def ledger(self, *, states: frozenset[LedgerState] | None = None) -> Iterator[LedgerRow]:
        """Every row (only those in ``states``, when given), ordered by portal and deal. A full read: for the
        payment sync and the CLI, never for one record's view."""
        ...

    def ledger_for_company(self, portal_id: int, company_id: str) -> list[LedgerRow]:
        """The rows of one company's deals (the ``company_id`` an attempt noted), ordered by deal: a keyed read
        (an index), never a full one. On DynamoDB the index is eventually consistent: a row written a moment ago
        may be missing or stale; read one deal's row with :meth:`get_ledger` when that matters."""
        ...


class Ledger(LedgerReads, Protocol):
    """One row per billing unit (a deal billed once, a period of a schedule, a consolidated invoice: its key is
    ``deal_id``) and the claim that lets one attempt at a time create its invoice."""

    def claim(self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime) -> Claim:
        """Take the deal for creating its invoice when the row is absent or in :data:`CLAIMABLE` with no live lease
        (an expired one, or none); never when it is created or cancelled, or claimed by a live lease (or still
        settling after a lost answer: :attr:`Failure.settle_until`)."""
        ...

    def note_intent(self, portal_id: int, deal_id: str, token: str, intent: Intent) -> None:
        """Before calling freee, remember where the invoice will be (``intent``), so a later attempt can find it by
        its marker: its (partner, billing date) is added to the row's ``intents`` (every place any attempt used is
        kept) and made its ``company_id`` / ``partner_id`` / ``billing_date``; its ``warnings`` replace the row's.
        Raises :class:`ClaimLost` if ``token`` no longer holds the row."""
        ...

    def renew_claim(
        self, portal_id: int, deal_id: str, token: str, now: datetime, until: datetime
    ) -> LedgerRow:
        """Move the lease of a ``creating`` row held by ``token`` to ``until`` (right before a freee write);
        :class:`ClaimLost` when ``token`` no longer holds it (another attempt claimed it meanwhile)."""
        ...

    def record_invoice(
        self, portal_id: int, deal_id: str, token: str, invoice: InvoiceRecord, now: datetime
    ) -> LedgerRow:
        """``creating → created`` (the row's ``reasons`` cleared); the claim is kept until :meth:`record_written`
        (so write-back happens once). Raises :class:`ClaimLost` unless the row is ``creating`` held by ``token``."""
        ...

    def record_scheduled(self, portal_id: int, deal_id: str, token: str, now: datetime) -> LedgerRow:
        """``creating → scheduled`` (the claim released, the row's ``reasons`` cleared): the deal is billed by its
        schedule from now on. Raises :class:`ClaimLost` unless the row is ``creating`` held by ``token``."""
        ...

    def record_failure(
        self, portal_id: int, deal_id: str, token: str, failure: Failure, now: datetime
    ) -> LedgerRow:
        """``creating → invalid | failed`` with the error, releasing the claim (unless the failure settles); only
        from ``creating`` held by ``token`` (else :class:`ClaimLost`), so a late failure can never move a created
        row back. ``failure.written`` is merged into the row's ``written``; ``failure.reasons`` replace the row's."""
        ...

    def record_written(
        self,
        portal_id: int,
        deal_id: str,
        values: Mapping[str, str],
        now: datetime,
        *,
        token: str | None = None,
        invoice: InvoiceRecord | None = None,
    ) -> LedgerRow:
        """Remember what was last written to the deal, per key: each of ``values`` replaces that key's value and
        every other key is kept (so a caller holding a stale copy of the row cannot drop a newer value). With
        ``token``, also release that claim; with ``invoice``, also replace what the ledger knows of the deal's
        freee invoice. Never changes the row's state."""
        ...

    def mark_cancelled(self, portal_id: int, deal_id: str, now: datetime) -> LedgerRow:
        """``created → cancelled``; :class:`ValueError` when the deal has no created invoice."""
        ...


class Orphans(Protocol):
    """Invoices created by an attempt that had lost its claim."""

    def record_orphan(self, orphan: OrphanInvoice) -> None:
        """Keep an orphan invoice (once per portal, deal and invoice id: recording it again changes nothing)."""
        ...

    def orphans(self, portal_id: int | None = None, deal_id: str | None = None) -> list[OrphanInvoice]:
        """Every orphan invoice kept (resolved ones too), or those of one portal / deal; by portal, deal, id."""
        ...

    def resolve_orphan(self, portal_id: int, deal_id: str, invoice_id: int, now: datetime) -> bool:
        """Mark an orphan resolved; False when there is no such orphan or it was resolved already."""
        ...


class Schedules(Protocol):
    """The billing schedule of each deal billed per period: one row per deal, every write conditioned on the version
    the writer read."""

    def get_schedule(self, portal_id: int, deal_id: str) -> ScheduleRow | None: ...

    def get_schedules(self, portal_id: int, deal_ids: Iterable[str]) -> dict[str, ScheduleRow]:
        """The schedules of these deals that exist, by deal id: keyed reads in batches (SQLite ``IN``, DynamoDB
        ``BatchGetItem``), never a scan."""
        ...

    def save_schedule(self, row: ScheduleRow, now: datetime) -> ScheduleRow:
        """Write ``row`` if the stored one still has ``row.version`` (0: none stored yet): an optimistic,
        conditional write. Returns the row as stored (``version`` + 1, ``updated_at`` = ``now``, ``plan`` as read
        back). Raises :class:`~sdk.errors.ScheduleConflict` when another writer saved first (nothing written)."""
        ...

    def due_schedules(self, portal_id: int, on: date) -> Iterator[ScheduleRow]:
        """:data:`~ScheduleState.ACTIVE` rows whose ``next_due`` is on or before ``on``, ordered by (``next_due``,
        deal id): a keyed read (SQLite an index, DynamoDB a query on a sparse index, never a scan), page by page.

        On DynamoDB the index is eventually consistent: a row saved a moment ago may be missing or stale. Read the
        row with :meth:`get_schedule` before acting on it (:meth:`save_schedule` refuses a stale one anyway). A row
        saved while the iteration runs may be met again at its new ``next_due`` when that is still due."""
        ...

    def schedules_for_company(self, portal_id: int, company_id: str) -> list[ScheduleRow]:
        """One company's schedules, ordered by deal id: a keyed read (SQLite an index, DynamoDB the ``by_company``
        index, eventually consistent like :meth:`LedgerReads.ledger_for_company`)."""
        ...


class PartnerLinks(Protocol):
    def partner_for_company(self, portal_id: int, company_id: str) -> int | None: ...

    def link_partner(self, portal_id: int, company_id: str, partner_id: int) -> int:
        """Link a company to a partner unless already linked; returns the partner the company is linked to."""
        ...


class EventLog(Protocol):
    """Webhook event ids already queued, kept for a while so a redelivery is dropped."""

    def seen_any(self, event_ids: Iterable[str], now: datetime) -> set[str]:
        """Which of these event ids are recorded and still kept (one round trip for a whole webhook batch)."""
        ...

    def record_sightings(self, event_ids: Iterable[str], now: datetime, keep_until: datetime) -> None:
        """Record (or extend) these event ids until ``keep_until``, after their work was queued."""
        ...


class History(Protocol):
    """An append-only history per deal."""

    def append_history(self, portal_id: int, deal_id: str, event: HistoryEvent) -> None: ...

    def history(self, portal_id: int, deal_id: str) -> list[HistoryEvent]: ...


class Waiters(Protocol):
    """Blocked workflow actions waiting on a deal's outcome."""

    def add_waiter(self, portal_id: int, deal_id: str, callback_id: str, until: datetime) -> None:
        """Remember that a workflow action that answered BLOCK (``callback_id``) waits for this deal's outcome,
        until ``until`` (HubSpot's own expiry of the blocked action). Adding it again keeps one, with the new
        ``until``."""
        ...

    def take_waiters(self, portal_id: int, deal_id: str, now: datetime) -> list[str]:
        """Remove and return every callback still waiting on the deal (expired ones are dropped, not returned).
        Atomic per callback: however many callers take at once, each callback goes to exactly one of them."""
        ...

    def take_waiter(self, portal_id: int, deal_id: str, callback_id: str, now: datetime) -> bool:
        """Remove one waiter: True for the one caller that removed it while it was live, else False."""
        ...


class Leases(Protocol):
    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take the named lease (e.g. ``payment-sync``) until ``until``, or renew it for its own holder; False
        while another holder's lease is live. A crashed holder's lease simply expires."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease back if ``holder`` still holds it (otherwise nothing)."""
        ...


class Rollups(Protocol):
    """The company rollup values last written to HubSpot, so the payment sync writes only what changed."""

    def companies_written(self, portal_id: int) -> dict[str, dict[str, str]]:
        """What was last written to each company's rollup properties, by company id."""
        ...

    def record_company_written(
        self, portal_id: int, company_id: str, values: Mapping[str, str], now: datetime
    ) -> None:
        """Remember what was last written to a company (replacing what was remembered)."""
        ...


class Store(Ledger, Orphans, Schedules, PartnerLinks, EventLog, History, Waiters, Leases, Rollups, Protocol):
    """Every role, as each adapter implements them on one database; the freee token row, the HubSpot token row (a
    public app's OAuth token) and the rate-limit log are reached through ``tokens``, ``hubspot_tokens`` and
    ``rate_limits``."""

    tokens: TokenStore
    hubspot_tokens: TokenStore
    rate_limits: RateLimitStore


def open_store(url: str) -> Store:
    """``sqlite:///path/to/file.sqlite`` or ``dynamodb://table-name``."""
    if url.startswith("sqlite:///"):
        from sdk.store.sqlite import SQLiteStore

        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith("dynamodb://"):
        from sdk.store.dynamodb import DynamoStore

        return DynamoStore(url.removeprefix("dynamodb://"))
    raise ValueError(f"unknown storage URL {url!r}; use sqlite:///path or dynamodb://table")
