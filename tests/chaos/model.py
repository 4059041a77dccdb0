"""The model the chaos storm's outcome is checked against (:mod:`tests.chaos.harness`).

:func:`expected_state` computes, from the sandboxes alone, what every deal and company must show; :func:`check`
compares it with what HubSpot holds and with freee's invoices (one per won deal, none without), then
:func:`tests.chaos.races.check_races` looks for the races of issue 14. :func:`check_recurring` checks the recurring
profile (:mod:`tests.chaos.recurring`): one invoice per period due, one per company and closing window.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sdk.billing.units import Unit, parse_marker
from sdk.store import LedgerRow, LedgerState
from sdk.terms import tokyo_today
from tests.chaos.races import check_races

if TYPE_CHECKING:
    from tests.chaos.harness import Report, Stand
    from tests.chaos.recurring import Contract


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
        if marker is not None and invoice["id"] not in stand.preseeded:
            by_deal[marker[1]] = invoice
    deal_company = stand.deal_company
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


def _whereabouts(stand: Stand, key: str) -> str:
    """What our side knows of a deal (or a period of its schedule: ``key`` is the ledger's) that did not end with
    one invoice: its ledger row, its last history events, the deal's queue messages, what the deal shows — so a
    failure on a fresh seed says where to look before a replay."""
    deal = Unit.from_key(key).deal_id or key
    row = stand.store.get_ledger(stand.settings.hubspot_portal_id or 0, key)
    ledger = (
        "no ledger row"
        if row is None
        else f"ledger {row.state} attempts={row.attempts} claimed_until={row.claim_until} intents={row.intents}"
        f" invoice={row.invoice.invoice_id if row.invoice else None} error={(row.last_error or '')[:160]!r}"
    )
    history = stand.store.history(stand.settings.hubspot_portal_id or 0, key)[-4:]
    queue = stand.queue()
    letters = [m.reason[:120] for m in queue.dead_letters(10_000) if m.body.get("deal_id") == deal]
    names = stand.settings.properties
    try:
        shown = stand.hubspot_box.properties_of("deals", deal)
    except Exception as missing:  # a deal the sandbox does not know
        shown = {names.deal_sync_status: f"(not in HubSpot: {missing})"}
    return (
        f": {ledger}; history {[(e.event, str(dict(e.detail))[:100]) for e in history]}; dead letters {letters};"
        f" the deal shows {shown.get(names.deal_sync_status)!r} {(shown.get(names.deal_sync_error) or '')[:160]!r}"
    )


def check(stand: Stand, companies: list[str], deals: list[str], report: Report) -> None:
    """Exactly one invoice per won deal, none without a deal, one partner per company, and every written
    value equal to the model."""
    invoices = [i for i in stand.freee_box.invoices() if i["id"] not in stand.preseeded]
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
            report.problems.append(
                f"deal {deal} has {markers[deal]} freee invoices{_whereabouts(stand, deal)}"
            )
    report.note("duplicate invoices", sum(1 for d in deals if markers[d] > 1))
    report.note("lost deals", sum(1 for d in deals if markers[d] == 0))
    deal_company = stand.deal_company
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
    check_races(stand, deals, report)


# ------------------------------------------------------------------------------------ the recurring profile


def check_recurring(stand: Stand, contracts: Mapping[str, Contract], last_day: date, report: Report) -> None:
    """Every period billed on or before ``last_day`` has exactly one invoice, its own or a share of its company's
    consolidated invoice for a window (a window's charges listed on it and marked on their rows), exactly one
    invoice per company and window, nothing billed that was not due, and every deal showing its invoices. The
    contracts (what the scenario wrote into HubSpot) say what is due; freee's invoices and the ledger say what
    was billed."""
    portal = stand.settings.hubspot_portal_id or 0
    invoices = _invoices_by_unit(stand, portal, report)
    due: dict[str, tuple[Contract, date]] = {}
    for contract in contracts.values():
        for number, billed in contract.periods(last_day):
            due[f"{contract.deal}:{number}"] = (contract, billed)
    rows = stand.store.get_ledgers(portal, sorted(due) + sorted(k for k in invoices if k not in due))
    for key in invoices:
        if not Unit.from_key(key).is_consolidated and key not in due:
            report.problems.append(f"{key} was invoiced but the contract bills no such period by {last_day}")
    missing = 0
    charged: dict[str, dict[str, int]] = defaultdict(dict)  # window key → charge key → share
    for key, (contract, billed) in sorted(due.items()):
        if contract.consolidated:
            missing += _consolidated_charge(stand, key, contract, billed, last_day, rows, invoices, charged)
        else:
            missing += _period_of_its_own(stand, key, contract, billed, rows, invoices)
    report.note(
        "period invoices", sum(len(v) for k, v in invoices.items() if not Unit.from_key(k).is_consolidated)
    )
    report.note("missing periods", missing)
    _check_windows(stand, invoices, rows, charged)
    report.note("wrong write-backs", _recurring_write_backs(stand, contracts, due, rows, invoices, report))


def _invoices_by_unit(stand: Stand, portal: int, report: Report) -> dict[str, list[dict[str, Any]]]:
    """freee's invoices by the unit their marker names; duplicates counted (and every invoice without a marker of
    the portal, or cancelled, is a problem)."""
    invoices: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for invoice in stand.freee_box.invoices():
        marker = parse_marker(invoice.get("memo"))
        if marker is None or marker[0] != portal:
            report.problems.append(
                f"invoice {invoice['id']} carries no marker of the portal: {invoice.get('memo')!r}"
            )
            continue
        invoices[marker[1]].append(invoice)
        if invoice["cancel_status"] == "canceled":
            report.problems.append(f"invoice {invoice['id']} ({marker[1]}) was cancelled")
    report.note("invoices", sum(len(v) for v in invoices.values()))
    report.note("duplicate invoices", sum(len(v) - 1 for v in invoices.values() if len(v) > 1))
    for key, found in invoices.items():
        if len(found) > 1:
            report.problems.append(f"{key} has {len(found)} freee invoices: {[i['id'] for i in found]}")
    return invoices


def _period_of_its_own(
    stand: Stand,
    key: str,
    contract: Contract,
    billed: date,
    rows: Mapping[str, LedgerRow],
    invoices: Mapping[str, list[dict[str, Any]]],
) -> int:
    """A per-deal period due: one invoice with its marker, on its billing date, recorded on its ``created`` row.
    Returns 1 when it has no invoice (missing)."""
    row, own, problems = rows.get(key), invoices.get(key, []), stand.report.problems
    if len(own) != 1 or row is None or row.state is not LedgerState.CREATED:
        problems.append(
            f"{key} (billed {billed}, {contract.kind}): {len(own)} invoices, ledger"
            f" {row.state if row else None}{_whereabouts(stand, key)}"
        )
    elif row.invoice is None or row.invoice.invoice_id != own[0]["id"]:
        problems.append(f"{key}: freee has invoice {own[0]['id']}, the ledger {row.invoice}")
    elif own[0]["billing_date"] != billed.isoformat():
        problems.append(f"{key}: billed on {own[0]['billing_date']}, the contract says {billed}")
    return 0 if own else 1


def _consolidated_charge(
    stand: Stand,
    key: str,
    contract: Contract,
    billed: date,
    last_day: date,
    rows: Mapping[str, LedgerRow],
    invoices: Mapping[str, list[dict[str, Any]]],
    charged: dict[str, dict[str, int]],
) -> int:
    """A consolidated company's period: no invoice of its own; marked ``created`` on one window of its company
    closing on or after its billing date (noted in ``charged``), or not yet when no window that could take it
    has closed by ``last_day``. Returns 1 when it should be on an invoice and is not (missing)."""
    row, problems = rows.get(key), stand.report.problems
    if invoices.get(key):
        problems.append(
            f"{key} of a consolidated company has an invoice of its own: {invoices[key][0]['id']}"
        )
    if row is not None and row.state is LedgerState.CREATED:
        marks = dict(row.charges)
        window, share = next(iter(marks.items())) if len(marks) == 1 else ("", 0)
        unit = Unit.from_key(window) if window.startswith("c") else None
        if unit is None or unit.company_id != contract.company or unit.window is None or unit.window < billed:
            problems.append(f"{key} (billed {billed}) is marked on {marks}, not on one window of its company")
        charged[window][key] = share
        return 0
    # the first closing date on or after both its billing date and the day after it was won (a deal won on its
    # window's closing day may go on that window or the next)
    first = contract.closing(max(billed, contract.won + timedelta(days=1)))
    if first > last_day:
        return 0
    problems.append(
        f"{key} (billed {billed}, won {contract.won}, {contract.kind}) is on no consolidated invoice by {first}:"
        f" ledger {row.state if row else None}{_whereabouts(stand, key)}"
    )
    return 1


def _check_windows(
    stand: Stand,
    invoices: Mapping[str, list[dict[str, Any]]],
    rows: Mapping[str, LedgerRow],
    charged: Mapping[str, Mapping[str, int]],
) -> None:
    """Exactly one invoice per company and window with charges: issued on its closing date, recorded on its row,
    listing exactly the charges marked on it, their shares adding up to its total."""
    report = stand.report
    windows = {k: v for k, v in invoices.items() if Unit.from_key(k).is_consolidated}
    wrong = sum(len(v) > 1 for v in windows.values())
    for window, found in sorted(windows.items()):
        row, invoice = rows.get(window), found[0]
        listed = dict(row.charges) if row is not None else {}
        total = int(invoice["total_amount"])
        if row is None or row.state is not LedgerState.CREATED or row.invoice is None:
            report.problems.append(f"{window}: freee has invoice {invoice['id']}, the ledger {row}")
        elif row.invoice.invoice_id != invoice["id"] or invoice["billing_date"] != window.split(":", 1)[1]:
            report.problems.append(
                f"{window}: invoice {invoice['id']} on {invoice['billing_date']}, {row.invoice}"
            )
        elif listed != charged.get(window, {}) or sum(listed.values()) != total:
            report.problems.append(
                f"{window}: lists {listed} (total {total}), its charges' rows say {charged.get(window, {})}"
            )
        else:
            continue
        wrong += 1
    for window in charged.keys() - windows.keys():
        wrong += 1
        report.problems.append(f"{window}: charges are marked on it, freee has no invoice for it")
    report.note("consolidated invoices", len(windows))
    report.note("windows with charges", len(charged))
    report.note("windows without exactly one invoice", wrong)


def _recurring_write_backs(
    stand: Stand,
    contracts: Mapping[str, Contract],
    due: Mapping[str, tuple[Contract, date]],
    rows: Mapping[str, LedgerRow],
    invoices: Mapping[str, list[dict[str, Any]]],
    report: Report,
) -> int:
    """What each deal shows: its invoice count and the amount invoiced (its invoices' totals, or its shares of its
    company's), ``created``; a per-deal schedule also its next billing date."""
    names = stand.settings.properties
    wrong = 0
    billed: dict[str, list[int]] = defaultdict(list)
    for key, (contract, _) in due.items():
        row = rows.get(key)
        if row is None or row.state is not LedgerState.CREATED or row.invoice is None:
            continue
        own = invoices.get(key)
        billed[contract.deal].append(int(own[0]["total_amount"]) if own else row.invoice.amount_total)
    for deal, contract in contracts.items():
        amounts = billed.get(deal, [])
        if not amounts:
            continue
        want = {
            names.deal_invoice_count: str(len(amounts)),
            names.deal_amount_invoiced: str(sum(amounts)),
            names.deal_sync_status: "created",
        }
        if not contract.consolidated:
            following = contract.next_billing(len(amounts))
            want[names.deal_next_billing_date] = following.isoformat() if following else ""
        shown = stand.hubspot_box.properties_of("deals", deal)
        for prop, value in want.items():
            if (shown.get(prop) or "") != value:
                wrong += 1
                report.problems.append(
                    f"deal {deal} ({contract.kind}): {prop} = {shown.get(prop)!r}, the model says {value!r}"
                )
    return wrong
