"""A seeded, repeatable storm through the real HTTP paths, and the model its outcome is checked against.

The scenario (issue 8): deals across companies won within one (sandbox) minute; the HubSpot sandbox delivers
signed webhook batches to the local server, some of them twice or more; workers (each with its own clients and
store handle, like separate processes) turn queued deals into freee invoices while both sandboxes inject 429,
5xx, resets and (on freee writes) time-outs after commit; workers are killed at random points of their work
(the message stays unacknowledged and the claim held) and replaced; the store goes away once and every
component reopens it; freee's token endpoint loses the answer to a refresh it committed, so the installation is
disconnected until the operator reconnects (queued deals wait, none is dead-lettered for it); validly signed
requests naming another portal arrive at every entry point and must all be refused. Then the queue drains, the dead-letter queue is redriven, random full and partial
payments are registered in freee, and the payment sync runs (under faults too) until it succeeds.

:func:`expected_state` computes, from the sandboxes alone, what every deal and company must show;
:func:`check` compares it with what HubSpot holds and with freee's invoices (one per won deal, none without).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from functions.app import Services, create_app
from functions.worker import run_worker
from sandbox import install, sandbox_settings
from sandbox.faults import FaultInjector, FaultKind, FaultRule
from sandbox.freee import create_freee_sandbox
from sandbox.hubspot import create_hubspot_sandbox
from sandbox.transport import ServedApp, serve
from sdk.clock import ScaledClock
from sdk.freee.tokens import TokenSet
from sdk.hubspot import HubSpotClient
from sdk.mapping import parse_marker
from sdk.queue import Queue, queue_from_settings
from sdk.settings import Settings
from sdk.store.sqlite import SQLiteStore
from sdk.terms import tokyo_today
from sdk.usecases.context import Context
from sdk.usecases.sync_payments import sync_payments
from tests.signing import custom_headers, v2_headers, v3_headers

PORTAL = 24681357
HUBSPOT_TOKEN = "chaos-hubspot-token"
HUBSPOT_SECRET = "chaos-hubspot-client-secret"
CUSTOM_CODE_SECRET = "chaos-custom-code-secret"
FOREIGN_PORTAL = PORTAL + 1  # another portal that installed the same app: its requests are signed alike


@dataclass(frozen=True)
class Profile:
    deals: int
    companies: int
    seed: int
    workers: int = 4
    fault_rate: float = 0.20
    duplicate_rate: float = 0.30
    kills: int = 6
    kill_probability: float = 0.004  # per client or store call of a worker, while the kill budget lasts
    speed: float = 120.0  # sandbox seconds per real second: leases and visibility time-outs pass quickly
    patience: float = 600.0  # real seconds the storm may take before the run is declared stuck


SMALL = Profile(deals=60, companies=12, seed=20261125, kills=3, kill_probability=0.03)
FULL_SEEDS = (1, 2, 3, 4, 5)


def full(seed: int) -> Profile:
    return Profile(deals=1000, companies=200, seed=seed, kills=10)


class Killed(BaseException):
    """A worker process dies here: nothing after this point runs, nothing is acknowledged or released."""


class StoreDown(sqlite3.OperationalError):
    """The store is not there (restarting)."""


@dataclass
class Report:
    profile: Profile
    counters: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def note(self, what: str, n: int = 1) -> None:
        self.counters[what] += n


# -------------------------------------------------------------------------------------------- the stand-ins


class KillSwitch:
    """Shared by the workers: each call through a :class:`Mortal` may be the last of its worker, while the
    budget lasts; half the deaths happen after the call did its work (its answer never used)."""

    def __init__(self, rng: random.Random, budget: int, probability: float, report: Report) -> None:
        self.rng, self.budget, self.probability, self.report = rng, budget, probability, report
        self.lock = threading.Lock()

    def roll(self) -> str | None:
        with self.lock:
            if self.budget <= 0 or self.rng.random() >= self.probability:
                return None
            self.budget -= 1
            self.report.note("workers killed")
            return self.rng.choice(("before", "after"))


class Mortal:
    """A worker's client or store, through which the worker may die (``Killed``) before or after a call."""

    def __init__(self, inner: Any, switch: KillSwitch, what: str) -> None:
        self._inner, self._switch, self._what = inner, switch, what

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            when = self._switch.roll()
            if when == "before":
                raise Killed(f"{self._what}.{name} (before)")
            result = target(*args, **kwargs)
            if when == "after":
                raise Killed(f"{self._what}.{name} (after)")
            return result

        return call


class Restartable:
    """The store as every component sees it: it can go down (every call fails) and come back reopened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inner = SQLiteStore(path)
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down:
            raise StoreDown("the store is restarting (chaos)")
        target = getattr(self.inner, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreDown("the store is restarting (chaos)")
            return target(*args, **kwargs)

        return call

    def restart(self) -> None:
        self.inner = SQLiteStore(self.path)
        self.down = False


# --------------------------------------------------------------------------------------------- the scenario


class Stand:
    """Everything the scenario runs: sandboxes on loopback, the local server, the workers, the store."""

    def __init__(self, profile: Profile, workdir: Path, report: Report) -> None:
        self.profile, self.report = profile, report
        self.rng = random.Random(profile.seed)
        self.clock = ScaledClock(profile.speed, start=datetime(2026, 11, 25, 0, 0, tzinfo=UTC))
        self.freee_faults = FaultInjector(seed=profile.seed)
        self.hubspot_faults = FaultInjector(seed=profile.seed + 1)
        self.freee_box = create_freee_sandbox(
            clock=self.clock,
            faults=self.freee_faults,
            rate_limit_per_minute=1_000_000,
            rate_limit_per_hour=10_000_000,
        )
        self.hubspot_box = create_hubspot_sandbox(
            clock=self.clock,
            faults=self.hubspot_faults,
            portal_id=PORTAL,
            rate_limit_per_10s=100_000,
            duplicate_delivery_probability=profile.duplicate_rate,
            seed=profile.seed,
        )
        self.served: list[ServedApp] = [
            serve(self.freee_box.app, timeout_hold_seconds=0.6),
            serve(self.hubspot_box.app, timeout_hold_seconds=0.6),
        ]
        self.settings: Settings = sandbox_settings(
            self.served[0].url,
            self.served[1].url,
            freee_rate_limit_per_minute=1_000_000,
            freee_rate_limit_per_hour=10_000_000,
            freee_timeout_seconds=0.5,
            storage_url=f"sqlite:///{workdir / 'store.sqlite'}",
            queue_url=f"sqlite:///{workdir / 'queue.sqlite'}",
            custom_code_secret=CUSTOM_CODE_SECRET,
        )
        self.store = Restartable(workdir / "store.sqlite")
        self.server_url = ""
        self.kills = KillSwitch(
            random.Random(profile.seed + 2), profile.kills, profile.kill_probability, report
        )
        self.stop_workers = threading.Event()
        self.workers: list[threading.Thread] = []
        self.lock = threading.Lock()

    # -------------------------------------------------------------------------------------------- wiring

    def context(self, *, mortal: bool) -> Context:
        """A component's own wiring (like a process of its own): its clients, over the shared store."""
        base = Context.from_settings(self.settings, clock=self.clock)
        if not mortal:
            return Context(self.settings, self.store, base.hubspot, base.freee, self.clock)  # type: ignore[arg-type]
        return Context(
            self.settings,
            Mortal(self.store, self.kills, "store"),  # type: ignore[arg-type]
            Mortal(base.hubspot, self.kills, "hubspot"),  # type: ignore[arg-type]
            Mortal(base.freee, self.kills, "freee"),  # type: ignore[arg-type]
            self.clock,
        )

    def queue(self) -> Queue:
        return queue_from_settings(self.settings, clock=self.clock)

    def start(self) -> None:
        admin = HubSpotClient.from_settings(self.settings, clock=self.clock)
        install(self.freee_box, admin, self.settings, self.store.tokens, self.clock)
        server = serve(create_app(Services(self.context(mortal=False), self.queue())))
        self.served.append(server)
        self.server_url = server.url
        self.hubspot_box.set_webhook_target(f"{server.url}/webhooks/hubspot")
        for n in range(self.profile.workers):
            self.spawn(n)

    def spawn(self, n: int) -> None:
        def life() -> None:
            while not self.stop_workers.is_set():  # a supervisor: a dead worker is replaced by a new one
                try:
                    run_worker(
                        self.context(mortal=True), self.queue(), stop=self.stop_workers, poll_interval=0.05
                    )
                except Killed:
                    continue

        thread = threading.Thread(target=life, name=f"chaos-worker-{n}", daemon=True)
        thread.start()
        self.workers.append(thread)

    def faults(self, on: bool) -> None:
        for service, injector in (("freee", self.freee_faults), ("hubspot", self.hubspot_faults)):
            for _, _, kind in injector.history:
                self.report.note(f"{service} faults {kind}")
        self.freee_faults.reset()
        self.hubspot_faults.reset()
        if not on:
            return
        share = self.profile.fault_rate / 4
        for kind in (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.RESET):
            self.freee_faults.add(FaultRule(kind, probability=share, path_prefix="/api/1/"))
            self.freee_faults.add(FaultRule(kind, probability=share, path_prefix="/iv/"))
            self.hubspot_faults.add(
                FaultRule(kind, probability=self.profile.fault_rate / 3, path_prefix="/crm/")
            )
        for prefix in ("/api/1/", "/iv/"):
            self.freee_faults.add(
                FaultRule(
                    FaultKind.TIMEOUT_AFTER_COMMIT,
                    probability=share,
                    methods=frozenset({"POST", "PUT"}),
                    path_prefix=prefix,
                )
            )

    def close(self) -> None:
        self.stop_workers.set()
        for thread in self.workers:
            thread.join(timeout=10)
        for served in reversed(self.served):
            served.stop()
        self.hubspot_box.close()

    # ------------------------------------------------------------------------------------------ the story

    def seed_crm(self) -> tuple[list[str], list[str]]:
        box, rng, today = self.hubspot_box, self.rng, tokyo_today(self.clock.now())
        terms = (None, "month_end_next_month_end", "net_30", "net_14", "month_end_next_next_month_end")
        companies = []
        for n in range(self.profile.companies):
            props: dict[str, Any] = {"name": f"株式会社カオス{n:03d}", "state": "東京都", "city": "港区"}
            if chosen := rng.choice(terms):
                props["freee_payment_terms"] = chosen
            companies.append(box.create_company(**props))
        rates = (None, "10", "8_reduced", "0")
        deals = []
        for n in range(self.profile.deals):
            closed = today - timedelta(days=rng.randrange(0, 120))
            lines = [
                {
                    "name": f"品目{n}-{k}",
                    "quantity": str(rng.randint(1, 5)),
                    "price": str(rng.randrange(1000, 200_000, 10)),
                }
                | ({"freee_tax_rate": r} if (r := rng.choice(rates)) else {})
                for k in range(rng.randint(1, 3))
            ]
            deals.append(
                box.create_deal(
                    company=companies[n % len(companies)],
                    line_items=lines,
                    dealname=f"カオス案件{n}",
                    closedate=f"{closed.isoformat()}T03:00:00Z",
                    pipeline="default",
                    dealstage="appointmentscheduled",
                )
            )
        return companies, deals

    def win_within_a_minute(self, deals: list[str], on_half: Callable[[], None]) -> None:
        gap = 60.0 / max(1, len(deals))
        for n, deal in enumerate(deals):
            self.hubspot_box.move_deal_to_stage(deal, "closedwon")
            self.clock.sleep(gap)
            if n == len(deals) // 2:
                on_half()

    def replay_some_batches(self) -> None:
        """ "Twice or more": beyond the sandbox's own duplicates, each batch is delivered again by hand (once or
        twice) with the profile's duplicate rate; the report counts batches that arrived two or more times."""
        accepted = [d for d in self.hubspot_box.deliveries if d.status is not None and d.status < 300]
        arrivals: Counter[tuple[int, ...]] = Counter(d.event_ids for d in accepted)
        first = {d.event_ids: d for d in accepted}
        with requests.Session() as session:
            for events, delivery in first.items():
                if self.rng.random() >= self.profile.duplicate_rate:
                    continue
                for _ in range(self.rng.randint(1, 2)):
                    answer = session.post(
                        delivery.url, data=delivery.body.encode(), headers=delivery.headers, timeout=10
                    )
                    if answer.status_code < 300:
                        arrivals[events] += 1
                    self.report.note("batches replayed")
        self.report.note("webhook batches", len(first))
        self.report.note("batches delivered twice or more", sum(1 for n in arrivals.values() if n >= 2))

    def cross_portal_requests(self, deals: list[str]) -> None:
        """Validly signed requests naming another portal for deals of the storm (some already invoiced): a webhook
        batch, the workflow action signed v2 and v3, the custom-code endpoint and the card. The client secret
        signs for every portal that installed the app, so only the tenant boundary stands between them and a
        second invoice: each must be refused with 403 (the final check counts the invoices)."""
        secret = self.settings.hubspot_client_secret
        assert secret is not None
        key = secret.get_secret_value()
        base = self.server_url
        refused = 0
        sent = 0
        with requests.Session() as session:
            for deal in self.rng.sample(deals, k=min(4, len(deals))):
                event = {
                    "eventId": self.rng.randrange(10**9, 10**10),
                    "subscriptionId": 1,
                    "portalId": FOREIGN_PORTAL,
                    "occurredAt": int(self.clock.now().timestamp() * 1000),
                    "subscriptionType": "deal.propertyChange",
                    "attemptNumber": 0,
                    "objectId": int(deal),
                    "propertyName": "dealstage",
                    "propertyValue": "closedwon",
                    "changeSource": "CRM",
                }
                action = {
                    "callbackId": f"chaos-cb-{deal}",
                    "origin": {"portalId": FOREIGN_PORTAL, "actionDefinitionId": 1},
                    "object": {"objectId": int(deal), "objectType": "DEAL"},
                    "inputFields": {},
                }
                custom = {"portalId": FOREIGN_PORTAL, "dealId": deal}
                calls = [
                    ("POST", "/webhooks/hubspot", json.dumps([event]).encode(), "v3"),
                    ("POST", "/actions/create-invoice", json.dumps(action).encode(), "v3"),
                    ("POST", "/actions/create-invoice", json.dumps(action).encode(), "v2"),
                    ("POST", "/custom-code/create-invoice", json.dumps(custom).encode(), "custom"),
                    (
                        "GET",
                        f"/cards/balance?objectType=deal&objectId={deal}&portalId={FOREIGN_PORTAL}",
                        b"",
                        "v3",
                    ),
                ]
                for method, path, body, how in calls:
                    url = f"{base}{path}"
                    stamp = str(int(self.clock.now().timestamp() * 1000))  # the server's (scaled) time
                    if how == "custom":
                        headers = custom_headers(body, secret=CUSTOM_CODE_SECRET, timestamp=stamp)
                    elif how == "v2":
                        headers = v2_headers(url, body, secret=key, method=method)
                    else:
                        headers = v3_headers(url, body, secret=key, method=method, timestamp=stamp)
                    answer = session.request(method, url, data=body or None, headers=headers, timeout=10)
                    sent += 1
                    if answer.status_code == 403:
                        refused += 1
                    else:
                        self.report.problems.append(
                            f"{method} {path} for portal {FOREIGN_PORTAL} answered {answer.status_code}, not 403"
                        )
        self.report.note("cross-portal requests", sent)
        self.report.note("cross-portal requests refused", refused)

    def lose_a_token_answer(self) -> None:
        """freee commits a refresh and its answer is lost: every access token is expired and the next call to the
        token endpoint times out after committing. The refresh token the workers hold is then spent; the
        installation is disconnected until the operator reconnects (:meth:`reconnect`)."""
        self.freee_box.expire_access_tokens()
        self.freee_faults.script(FaultKind.TIMEOUT_AFTER_COMMIT, path_prefix="/public_api/token")
        self.report.note("token answers lost")

    def reconnect_when_disconnected(self, deadline: float) -> None:
        """The operator notices (``/healthz`` is 503) and runs ``setup freee``: a fresh grant replaces the pair."""
        with requests.Session() as session:
            while time.monotonic() < deadline:
                answer = session.get(f"{self.server_url}/healthz", timeout=10)
                if answer.status_code == 503 and "freee_disconnected" in answer.text:
                    break
                time.sleep(0.1)
            else:
                raise TimeoutError("the installation never said it was disconnected from freee")
            self.report.note("disconnected seen on /healthz")
            held = self.queue().depth()
            self.report.note(
                "messages waiting while disconnected", held.visible + held.in_flight + held.delayed
            )
            self.report.note("dead letters while disconnected", held.dead)
            time.sleep(1.0)  # a while disconnected: held messages are rechecked, none is dead-lettered for it
            row = self.store.tokens.load_token()
            granted = TokenSet.from_grant(
                self.freee_box.issue_tokens(), self.clock.now(), company_id=self.settings.freee_company_id
            )
            self.store.tokens.save_token(granted, row.version if row else None)
            self.report.note("reconnected")
            if session.get(f"{self.server_url}/healthz", timeout=10).status_code != 200:
                self.report.problems.append("/healthz is not green after reconnecting")

    def restart_store(self) -> None:
        self.store.down = True
        self.report.note("store restarts")
        time.sleep(0.3)  # 36 sandbox seconds without a store
        self.store.restart()

    def wait_drained(self, queue: Queue, deadline: float) -> None:
        quiet = 0
        while time.monotonic() < deadline:
            depth = queue.depth()
            idle = self.hubspot_box.wait_idle(0.05)
            if idle and depth.visible == 0 and depth.in_flight == 0 and depth.delayed == 0:
                quiet += 1
                if quiet >= 5:
                    return
            else:
                quiet = 0
            time.sleep(0.2)
        raise TimeoutError(f"the queue did not drain: {queue.depth()}")

    def pay_randomly(self) -> None:
        today = tokyo_today(self.clock.now())
        for invoice in self.freee_box.invoices():
            total = int(invoice["total_amount"])
            billed = date.fromisoformat(invoice["billing_date"])
            on = billed + timedelta(days=self.rng.randrange(0, max(1, (today - billed).days + 1)))
            roll = self.rng.random()
            if roll < 0.35:
                self.freee_box.pay(int(invoice["id"]), total, on)
            elif roll < 0.55:
                self.freee_box.pay(int(invoice["id"]), self.rng.randrange(1, total), on)
            elif roll < 0.65 and total >= 3:
                first = self.rng.randrange(1, total - 1)
                self.freee_box.pay(int(invoice["id"]), first, on)
                self.freee_box.pay(int(invoice["id"]), self.rng.randrange(1, total - first + 1), on)

    def sync_until_done(self, attempts: int = 20) -> None:
        for _ in range(attempts):
            summary = sync_payments(self.context(mortal=False))
            self.report.note("payment syncs")
            if summary.ok:
                return
            self.report.note("payment syncs with errors")
        raise AssertionError(f"the payment sync never succeeded in {attempts} runs")


def run(profile: Profile, workdir: Path) -> Report:
    report = Report(profile)
    started = time.monotonic()
    stand = Stand(profile, workdir, report)
    try:
        stand.start()
        companies, deals = stand.seed_crm()
        stand.faults(on=True)
        stand.win_within_a_minute(deals, on_half=lambda: (stand.restart_store(), stand.lose_a_token_answer()))
        queue = stand.queue()
        deadline = time.monotonic() + profile.patience
        stand.hubspot_box.wait_idle(profile.patience)
        stand.cross_portal_requests(deals)
        stand.replay_some_batches()
        stand.reconnect_when_disconnected(deadline)
        stand.wait_drained(queue, deadline)
        report.note("dead letters", queue.depth().dead)
        stand.faults(on=False)
        report.note("redriven", queue.redrive())
        stand.wait_drained(queue, deadline)
        stand.stop_workers.set()
        for thread in stand.workers:
            thread.join(timeout=30)
        stand.pay_randomly()
        stand.faults(on=True)
        stand.sync_until_done()
        stand.faults(on=False)
        report.note("webhook deliveries", len(stand.hubspot_box.deliveries))
        report.note("duplicate deliveries", sum(1 for d in stand.hubspot_box.deliveries if d.duplicate))
        check(stand, companies, deals, report)
    finally:
        stand.close()
        report.seconds = time.monotonic() - started
    return report


# ---------------------------------------------------------------------------------------------- the model


def expected_state(
    stand: Stand, companies: list[str], deals: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """What each deal and company must show, computed from the freee sandbox's invoices and accounting deals
    alone (not from anything our code stored), and today's date in Tokyo."""
    names = stand.settings.properties
    today = tokyo_today(stand.clock.now())
    accounting = {d["id"]: d for d in stand.freee_box.state.deals.values()}
    by_deal: dict[str, dict[str, Any]] = {}
    for invoice in stand.freee_box.invoices():
        marker = parse_marker(invoice.get("memo"))
        if marker is not None:
            by_deal[marker[1]] = invoice
    deal_company = {d: companies[n % len(companies)] for n, d in enumerate(deals)}
    want_deals: dict[str, dict[str, str]] = {}
    per_company: dict[str, list[tuple[str, int, int, date | None, date]]] = {c: [] for c in companies}
    for deal in deals:
        invoice = by_deal.get(deal)
        if invoice is None:
            continue
        total = int(invoice["total_amount"])
        acc = accounting.get(invoice["deal_id"]) if invoice["deal_id"] is not None else None
        payments = sorted(
            (date.fromisoformat(p["date"]), int(p["amount"])) for p in (acc or {}).get("payments", [])
        )
        paid = sum(a for _, a in payments)
        left = total - paid
        due = date.fromisoformat(invoice["payment_date"])
        late = max(0, (today - due).days)
        if left == 0:
            status, late = "paid", 0
        elif late > 0:
            status = "overdue"
        elif paid > 0:
            status = "partially_paid"
        else:
            status = "unpaid"
        paid_date = ""
        if left == 0:
            running = 0
            for day, amount in payments:
                running += amount
                if running >= total:
                    paid_date = day.isoformat()
                    break
        want_deals[deal] = {
            names.deal_sync_status: "created",
            names.deal_invoice_id: str(invoice["id"]),
            names.deal_invoice_number: invoice["invoice_number"],
            names.deal_amount_invoiced: str(total),
            names.deal_payment_status: status,
            names.deal_amount_paid: str(paid),
            names.deal_amount_outstanding: str(left),
            names.deal_paid_date: paid_date,
            names.deal_days_overdue: str(late),
        }
        last_payment = payments[-1][0] if payments else None
        per_company[deal_company[deal]].append((status, left, late, last_payment, due))
    want_companies: dict[str, dict[str, str]] = {}
    settings = stand.settings
    for company, rows in per_company.items():
        if not rows:
            continue
        open_rows = [r for r in rows if r[1] > 0]
        overdue = [r for r in open_rows if r[0] == "overdue"]
        last = max((r[3] for r in rows if r[3] is not None), default=None)
        if any(r[2] > settings.payment_risk_overdue_grace_days for r in overdue):
            risk = "overdue"
        elif overdue or any(r[0] == "partially_paid" for r in open_rows):
            risk = "watch"
        elif any((r[4] - today).days <= settings.payment_risk_watch_days for r in open_rows):
            risk = "watch"  # an open invoice falls due within the watch window
        else:
            risk = "none"
        want_companies[company] = {
            names.company_outstanding_total: str(sum(r[1] for r in open_rows)),
            names.company_overdue_total: str(sum(r[1] for r in overdue)),
            names.company_overdue_invoice_count: str(len(overdue)),
            names.company_oldest_overdue_days: str(max((r[2] for r in overdue), default=0)),
            names.company_last_payment_date: last.isoformat() if last else "",
            names.company_payment_risk: risk,
        }
    return want_deals, want_companies


def check(stand: Stand, companies: list[str], deals: list[str], report: Report) -> None:
    """Exactly one invoice per won deal, none without a deal, one partner per company, and every written
    value equal to the model."""
    invoices = stand.freee_box.invoices()
    known = set(deals)
    markers: Counter[str] = Counter()
    for invoice in invoices:
        marker = parse_marker(invoice.get("memo"))
        if marker is None or marker[1] not in known:
            report.problems.append(
                f"invoice {invoice['id']} belongs to no deal of the scenario: {invoice.get('memo')!r}"
            )
            continue
        if invoice["cancel_status"] == "canceled":
            report.problems.append(f"invoice {invoice['id']} of deal {marker[1]} was cancelled")
        markers[marker[1]] += 1
    report.note("invoices", len(invoices))
    for deal in deals:
        if markers[deal] != 1:
            report.problems.append(f"deal {deal} has {markers[deal]} freee invoices")
    report.note("duplicate invoices", sum(1 for d in deals if markers[d] > 1))
    report.note("lost deals", sum(1 for d in deals if markers[d] == 0))
    deal_company = {d: companies[n % len(companies)] for n, d in enumerate(deals)}
    partners: dict[str, set[int]] = {}
    for invoice in invoices:
        marker = parse_marker(invoice.get("memo"))
        if marker is not None and marker[1] in deal_company:
            partners.setdefault(deal_company[marker[1]], set()).add(invoice["partner_id"])
    for company, ids in partners.items():
        if len(ids) != 1:
            report.problems.append(
                f"company {company} has invoices to {len(ids)} freee partners: {sorted(ids)}"
            )
    want_deals, want_companies = expected_state(stand, companies, deals)
    wrong = 0
    for deal, want in want_deals.items():
        shown = stand.hubspot_box.properties_of("deals", deal)
        for prop, value in want.items():
            if (shown.get(prop) or "") != value:
                wrong += 1
                report.problems.append(f"deal {deal}: {prop} = {shown.get(prop)!r}, the model says {value!r}")
    names = stand.settings.properties
    for company, want in want_companies.items():
        shown = stand.hubspot_box.properties_of("companies", company)
        want = want | {names.company_partner_id: str(next(iter(partners.get(company, {0}))))}
        for prop, value in want.items():
            if (shown.get(prop) or "") != value:
                wrong += 1
                report.problems.append(
                    f"company {company}: {prop} = {shown.get(prop)!r}, the model says {value!r}"
                )
    report.note("wrong write-backs", wrong)
