"""A seeded, repeatable storm through the real HTTP paths; the model its outcome is checked against is in
:mod:`tests.chaos.model`, the workers' and the store's stand-ins in :mod:`tests.chaos.standins`.

The scenario (issue 8): deals across companies won within one (sandbox) minute; the HubSpot sandbox delivers
signed webhook batches to the local server, some of them twice or more; workers (each with its own clients and
store handle, like separate processes) turn queued deals into freee invoices while both sandboxes inject 429,
5xx, resets and (on freee writes) time-outs after commit; workers are killed at random points of their work
(the message stays unacknowledged and the claim held) and replaced; the store goes away once and every
component reopens it; freee's token endpoint loses the answer to a refresh it committed, so the installation is
disconnected until the operator reconnects (queued deals wait, none is dead-lettered for it); validly signed
requests naming another portal arrive at every entry point and must all be refused. Then the queue drains, the dead-letter queue is redriven, random full and partial
payments are registered in freee, and the payment sync runs (under faults too) until it succeeds.

To see the races (issue 14, :mod:`tests.chaos.races`): the store is SQLite or DynamoDB (moto); freee's real rate
limits hold during the storm on both sides; a few companies have a crowd of deals closing on one date, beside
invoices of other deals of the same partner and date made before the storm, and freee lists invoices oldest first
or shuffled, so a marker lookup must page; some answers to a crowd's invoices are lost; freee answers some writes
late and some reads slower than the time-out; a worker may stall past its lease after the marker lookup and then
go on to create (the zombie), or pause right before it writes a failure onto a deal.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from local.loop import Loop
from sandbox import PORTAL_ID
from sandbox.faults import FaultInjector, FaultKind, FaultRule
from sdk.clock import ScaledClock
from sdk.errors import AuthError
from sdk.freee.errors import FreeeAuthError, FreeeDisconnected
from sdk.freee.tokens import TokenSet
from sdk.mapping import partner_code, partner_shortcut
from sdk.queue import Queue
from sdk.queue.sqlite import SQLiteQueue
from sdk.terms import tokyo_today
from sdk.usecases.context import Context
from sdk.usecases.sync_payments import sync_payments
from tests.chaos.model import check
from tests.chaos.races import OTHER_DEALS_FROM, FreeeLimits, ScaledTimeouts, StatusLog, preseed_invoices
from tests.chaos.standins import (
    Killed,
    KillSwitch,
    Mortal,
    Restartable,
    StoreKind,
    dynamodb_store,
    sqlite_store,
)
from tests.signing import custom_headers, v2_headers, v3_headers

PORTAL = PORTAL_ID
STORM_START = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
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
    # issue 14: what it takes to see the races
    store: str = "sqlite"  # or "dynamodb" (moto; ``run`` takes the boto3 resource)
    # freee's own limits (the settings' defaults) on both sides from the storm's start until this many clock
    # seconds after the operator reconnects freee (None: until the queue first drains; 0: never)
    real_rate_limits: float | None = None
    crowds: int = 0  # companies with a crowd of deals closing on one date
    crowd_deals: int = 0  # deals of each crowd company, all closing that date
    crowd_others: int = 0  # invoices of other deals of a crowd's partner on that date, made before the storm
    invoice_order: str = "newest_first"  # how freee lists invoices: newest_first | oldest_first | shuffled
    lost_answers: int = 0  # freee answers to invoices of crowd deals lost (the worker dies after the POST)
    stalls: int = 0  # zombies: a worker stalls past its lease after a freee invoice read, then goes on
    stall_probability: float = 0.0  # per freee invoice read of a worker, while the stall budget lasts
    slow_writes: float = 0.0  # share of invoice POSTs freee answers late (within the time-out, or just after)
    slow_reads: float = 0.0  # share of invoice and partner reads freee answers after the time-out
    failure_pauses: int = (
        0  # a worker pauses (a fraction of a lease) right before writing a failure onto a deal
    )
    failure_pause_probability: float = 0.0  # per failure written, while the budget lasts


SMALL = Profile(
    deals=60,
    companies=12,
    seed=20261125,
    kills=3,
    kill_probability=0.03,
    real_rate_limits=240.0,
    crowds=1,
    crowd_deals=12,
    crowd_others=110,
    invoice_order="oldest_first",
    lost_answers=1,
    stalls=2,
    stall_probability=1.0,
    slow_writes=0.10,
    slow_reads=0.05,
    failure_pauses=6,
    failure_pause_probability=0.5,
)
#: moto's DynamoDB is slower than SQLite (each request serialised, ~50 per deal): fewer deals, the same faults, and
#: freee's list shuffled (a lost invoice of the crowd is past the first page three times in five)
SMALL_DYNAMODB = replace(
    SMALL,
    deals=8,
    companies=2,
    seed=20261126,
    kills=2,
    kill_probability=0.05,
    store="dynamodb",
    crowd_deals=4,
    crowd_others=250,
    invoice_order="shuffled",
    duplicate_rate=0.5,
    slow_writes=0.30,
    slow_reads=0.15,
)
FULL_SEEDS = (1, 2, 3, 4, 5)
STORES = ("sqlite", "dynamodb")


def full(seed: int, store: str = "sqlite") -> Profile:
    """The full profile: 1,000 deals across 200 companies on SQLite (150 across 30 on moto's DynamoDB, where each
    request is serialised and slower as the table grows), three crowds (two of 40 deals on DynamoDB), freee listing
    oldest first on odd seeds and shuffled on even ones."""
    profile = Profile(
        deals=1000,
        companies=200,
        seed=seed,
        kills=10,
        store=store,
        crowds=3,
        crowd_deals=120,
        crowd_others=120,
        invoice_order="oldest_first" if seed % 2 else "shuffled",
        lost_answers=3,
        stalls=6,
        stall_probability=0.2,
        slow_writes=0.04,
        slow_reads=0.02,
        failure_pauses=40,
        failure_pause_probability=0.3,
    )
    if store == "dynamodb":
        profile = replace(
            profile,
            deals=150,
            companies=30,
            kills=6,
            crowds=2,
            crowd_deals=40,
            lost_answers=2,
            duplicate_rate=0.4,  # a tenth of the batches: more of them delivered twice
        )
    return profile


@dataclass
class Report:
    profile: Profile
    counters: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def note(self, what: str, n: int = 1) -> None:
        self.counters[what] += n


#: a dead letter's reason starts with its error's class name (``functions.worker._failed``): these say freee's
#: authorisation failed, which the worker must hold, never give up on
AUTH_ERRORS = frozenset(k.__name__ for k in (AuthError, FreeeAuthError, FreeeDisconnected))

# --------------------------------------------------------------------------------------------- the scenario


class Stand:
    """Everything the scenario runs: the loop on loopback (:class:`local.loop.Loop`: sandboxes, the local server,
    the workers), the store, and the faults, kills and races of the storm."""

    def __init__(
        self,
        profile: Profile,
        workdir: Path,
        report: Report,
        store: StoreKind | None = None,
        *,
        clock: ScaledClock | None = None,
    ) -> None:
        self.profile, self.report = profile, report
        store = store or sqlite_store(workdir / "store.sqlite")
        self.rng = random.Random(profile.seed)
        self.clock = clock or ScaledClock(profile.speed, start=STORM_START)
        self.freee_faults = FaultInjector(seed=profile.seed)
        self.hubspot_faults = FaultInjector(seed=profile.seed + 1)
        self.loop = Loop(
            self.clock,
            workdir,
            freee={
                "faults": self.freee_faults,
                "invoice_order": profile.invoice_order,
                "invoice_order_seed": profile.seed,
            },
            hubspot={
                "faults": self.hubspot_faults,
                "rate_limit_per_10s": 100_000,
                "duplicate_delivery_probability": profile.duplicate_rate,
                "seed": profile.seed,
            },
            timeout_hold_seconds=0.6,
            # in clock seconds, like the lease it is weighed against; waited as 0.5 real s (ScaledTimeouts),
            # below the 0.6 s a time-out-after-commit holds the answer
            freee_timeout_seconds=0.5 * profile.speed,
            storage_url=store.url,
            custom_code_secret=CUSTOM_CODE_SECRET,
        )
        self.settings, self.freee_box, self.hubspot_box = (
            self.loop.settings,
            self.loop.freee_box,
            self.loop.hubspot_box,
        )
        self.store_kind = store
        self.store = Restartable(store)
        self.kills = KillSwitch(
            random.Random(profile.seed + 2), profile.kills, profile.kill_probability, report
        )
        lease = float(getattr(self.settings, "invoice_lease_seconds", 120.0))
        self.kills.arm_stalls(
            random.Random(profile.seed + 3),
            profile.stalls,
            profile.stall_probability,
            (1.2 * lease, 2 * lease),
        )
        self.kills.arm_pauses(
            random.Random(profile.seed + 4),
            profile.failure_pauses,
            profile.failure_pause_probability,
            (0.1 * lease, 0.4 * lease),
            self.settings.properties.deal_sync_status,
        )
        self.limits = FreeeLimits(self.freee_box, self.settings, self.clock, report)
        self.status_log = StatusLog.observe(
            self.hubspot_box.state, self.settings.properties.deal_sync_status, self.clock
        )
        self.deal_company: dict[str, str] = {}
        self.crowd_companies: set[str] = set()
        self.preseeded: set[int] = set()

    # -------------------------------------------------------------------------------------------- wiring

    def context(self, *, mortal: bool) -> Context:
        """A component's own wiring (like a process of its own): its clients (the freee one with its own handle on
        the store for tokens and the shared rate log, its time-out waited on the scaled clock), over the shared
        store."""
        own = self.store_kind.open()
        ctx = self.loop.context(
            store=self.store,  # type: ignore[arg-type]
            freee_store=own,
            session=ScaledTimeouts(self.profile.speed),
        )
        freee = self.limits.track(ctx.freee)  # type: ignore[arg-type]
        if not mortal:
            return ctx
        return Context(
            self.settings,
            Mortal(self.store, self.kills, "store", self.clock),  # type: ignore[arg-type]
            Mortal(ctx.hubspot, self.kills, "hubspot", self.clock),  # type: ignore[arg-type]
            Mortal(freee, self.kills, "freee", self.clock),  # type: ignore[arg-type]
            self.clock,
        )

    def queue(self) -> Queue:
        return self.loop.queue()

    def start(self) -> None:
        self.loop.install(self.store.tokens)
        self.loop.start_server(self.context(mortal=False), self.queue())
        self.loop.spawn_workers(  # a supervisor: a dead worker is replaced by a new one
            self.profile.workers,
            lambda: self.context(mortal=True),
            poll_interval=0.05,
            restart_on=(Killed,),
            name="chaos-worker",
        )

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
        self.late_answers()

    def late_answers(self) -> None:
        """freee answers some invoice POSTs late: within the time-out (the lease must outlast the call: a write
        starts only with more lease left than the time-out), or after it but within ``freee_settle_seconds``
        (freee commits a write we stopped waiting for; the deal stays claimed that long). And some reads of
        invoices and partners come after the time-out: retried, they stretch the call past the lease."""
        timeout = self.settings.freee_timeout_seconds
        settle = float(getattr(self.settings, "freee_settle_seconds", 0.0))
        late = [0.4 * timeout, 0.8 * timeout] + ([timeout + 0.4 * settle] if settle > 0 else [])
        for seconds in late:
            self.freee_faults.add(
                FaultRule(
                    FaultKind.LATENCY,
                    probability=self.profile.slow_writes / len(late),
                    methods=frozenset({"POST"}),
                    path_prefix="/iv/invoices",
                    latency_seconds=seconds,
                )
            )
        for prefix in ("/iv/invoices", "/api/1/partners"):
            self.freee_faults.add(
                FaultRule(
                    FaultKind.LATENCY,
                    probability=self.profile.slow_reads,
                    methods=frozenset({"GET"}),
                    path_prefix=prefix,
                    latency_seconds=1.5 * timeout,
                )
            )

    def close(self) -> None:
        self.loop.close()

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
        plan = [companies[n % len(companies)] for n in range(self.profile.deals)]
        crowd_dates = self.seed_crowds(companies)
        if crowd_dates:  # each crowd's deals, the others spread over the other companies, in random order
            others = companies[len(crowd_dates) :]
            plan = [c for c in crowd_dates for _ in range(self.profile.crowd_deals)]
            plan += [others[n % len(others)] for n in range(self.profile.deals - len(plan))]
            rng.shuffle(plan)
        rates = (None, "10", "8_reduced", "0")
        deals = []
        for n in range(self.profile.deals):
            closed = crowd_dates.get(plan[n]) or today - timedelta(days=rng.randrange(0, 120))
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
                    company=plan[n],
                    line_items=lines,
                    dealname=f"カオス案件{n}",
                    closedate=f"{closed.isoformat()}T03:00:00Z",
                    pipeline="default",
                    dealstage="appointmentscheduled",
                )
            )
            self.deal_company[deals[-1]] = plan[n]
        return companies, deals

    def seed_crowds(self, companies: list[str]) -> dict[str, date]:
        """The first ``crowds`` companies: each a closing date for all its deals, its freee partner already there
        (an earlier deal made it), and ``crowd_others`` invoices of other deals to it on that date. Returns each
        crowd company's date; arms the loss of the answers to the first invoices of the crowds."""
        profile, today = self.profile, tokyo_today(self.clock.now())
        dates: dict[str, date] = {}
        partners: set[int] = set()
        for n, company in enumerate(companies[: profile.crowds]):
            dates[company] = today - timedelta(days=self.rng.randrange(0, 120))
            self.crowd_companies.add(company)
            partner = self.freee_box.add_partner(
                f"株式会社カオス{n:03d}",
                code=partner_code(company, self.settings),
                shortcut1=partner_shortcut(company),
            )
            partners.add(int(partner["id"]))
            assert self.settings.freee_company_id is not None
            self.preseeded |= preseed_invoices(
                self.freee_box,
                company_id=self.settings.freee_company_id,
                partner_id=int(partner["id"]),
                billing_date=dates[company],
                count=profile.crowd_others,
                portal_id=PORTAL,
                first_deal=OTHER_DEALS_FROM + n * 100_000,
            )
        self.report.note("crowd invoices made before the storm", len(self.preseeded))
        self.kills.arm_losses(partners, profile.lost_answers)
        return dates

    def win_within_a_minute(self, deals: list[str], on_half: Callable[[], None]) -> None:
        gap = 60.0 / max(1, len(deals))
        for n, deal in enumerate(deals):
            self.hubspot_box.move_deal_to_stage(deal, "closedwon")
            self.clock.sleep(gap)
            if n == len(deals) // 2:
                on_half()

    def replay_some_batches(self, since: int = 0) -> int:
        """ "Twice or more": beyond the sandbox's own duplicates, each batch is delivered again by hand (once or
        twice) with the profile's duplicate rate; the report counts batches that arrived two or more times. Only
        the deliveries from the ``since``-th on (a day's); returns how many deliveries there were."""
        deliveries = list(self.hubspot_box.deliveries)
        accepted = [d for d in deliveries[since:] if d.status is not None and d.status < 300]
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
        return len(deliveries)

    def cross_portal_requests(self, deals: list[str]) -> None:
        """Validly signed requests naming another portal for deals of the storm (some already invoiced): a webhook
        batch, the workflow action signed v2 and v3, the custom-code endpoint and the card. The client secret
        signs for every portal that installed the app, so only the tenant boundary stands between them and a
        second invoice: each must be refused with 403 (the final check counts the invoices)."""
        secret = self.settings.hubspot_client_secret
        assert secret is not None
        key = secret.get_secret_value()
        base = self.loop.server_url
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
                answer = session.get(f"{self.loop.server_url}/healthz", timeout=10)
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
            time.sleep(1.0)  # a while disconnected: held messages are rechecked, none is dead-lettered for it
            self.count_dead_letters("while disconnected")
            row = self.store.tokens.load_token()
            granted = TokenSet.from_grant(
                self.freee_box.issue_tokens(), self.clock.now(), company_id=self.settings.freee_company_id
            )
            self.store.tokens.save_token(granted, row.version if row else None)
            self.report.note("reconnected")
            if session.get(f"{self.loop.server_url}/healthz", timeout=10).status_code != 200:
                self.report.problems.append("/healthz is not green after reconnecting")

    def count_dead_letters(self, when: str) -> None:
        """Count the dead letters by why they died. A deal may be given up for the storm's other faults (freee's
        5xx, timeouts) before the disconnection, and redriven at the end; none may die *for* the disconnection:
        an auth error (``FreeeDisconnected``, ``FreeeAuthError``) as its reason."""
        queue = self.queue()
        assert isinstance(queue, SQLiteQueue)
        letters = queue.dead_letters(limit=10_000)
        self.report.note(f"dead letters {when}", len(letters))
        for letter in letters:
            reason = letter.reason
            kind = reason.split(":", 1)[0].strip() or "(no reason)"
            self.report.note(f"dead letters {when}: {kind}")
            if kind in AUTH_ERRORS:
                self.report.note(f"dead letters for the disconnection {when}")
                self.report.problems.append(
                    f"deal {letter.body.get('deal_id')} dead-lettered for {reason[:200]}"
                )

    def restart_store(self) -> None:
        self.store.down = True
        self.report.note("store restarts")
        time.sleep(0.3)  # 36 sandbox seconds without a store
        self.store.restart()

    def wait_drained(self, queue: Queue, deadline: float, *, checks: int = 5, every: float = 0.2) -> None:
        """Until the queue is empty and no webhook is on its way, ``checks`` times in a row ``every`` seconds apart."""
        quiet = 0
        while time.monotonic() < deadline:
            depth = queue.depth()
            idle = self.hubspot_box.wait_idle(0.05)
            if idle and depth.visible == 0 and depth.in_flight == 0 and depth.delayed == 0:
                quiet += 1
                if quiet >= checks:
                    return
            else:
                quiet = 0
            time.sleep(every)
        raise TimeoutError(f"the queue did not drain: {queue.depth()}")

    def pay_randomly(self) -> None:
        today = tokyo_today(self.clock.now())
        for invoice in self.freee_box.invoices():
            if invoice["id"] in self.preseeded:
                continue
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


def run(profile: Profile, workdir: Path, *, dynamodb: Any = None) -> Report:
    """One storm on ``profile.store``: for ``dynamodb``, ``dynamodb`` is a boto3 resource made inside moto."""
    report = Report(profile)
    started = time.monotonic()
    store = None
    if profile.store == "dynamodb":
        if dynamodb is None:
            raise ValueError("the DynamoDB profile needs a boto3 DynamoDB resource made inside moto")
        store = dynamodb_store(dynamodb)
    stand = Stand(profile, workdir, report, store)
    try:
        stand.start()
        companies, deals = stand.seed_crm()
        stand.limits.switch(real=profile.real_rate_limits != 0)
        stand.faults(on=True)
        stand.win_within_a_minute(deals, on_half=lambda: (stand.restart_store(), stand.lose_a_token_answer()))
        queue = stand.queue()
        deadline = time.monotonic() + profile.patience
        stand.hubspot_box.wait_idle(profile.patience)
        stand.replay_some_batches()  # first: a replay must land inside the signatures' five minutes
        stand.cross_portal_requests(deals)
        stand.reconnect_when_disconnected(deadline)
        if profile.real_rate_limits:  # the burst after the reconnection under freee's limits, then lifted
            lift = threading.Timer(
                profile.real_rate_limits / profile.speed, stand.limits.switch, kwargs={"real": False}
            )
            lift.daemon = True
            lift.start()
        stand.wait_drained(queue, deadline)
        stand.limits.switch(real=False)
        report.note(
            "clock seconds when the storm drained", round((stand.clock.now() - STORM_START).total_seconds())
        )
        stand.count_dead_letters("after the storm")
        stand.faults(on=False)
        report.note("redriven", queue.redrive())
        stand.wait_drained(queue, deadline)
        stand.loop.stop_workers(timeout=30)
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
