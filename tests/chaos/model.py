"""The model the chaos storm's outcome is checked against (:mod:`tests.chaos.harness`).

:func:`expected_state` computes, from the sandboxes alone, what every deal and company must show; :func:`check`
compares it with what HubSpot holds and with freee's invoices (one per won deal, none without), then
:func:`tests.chaos.races.check_races` looks for the races of issue 14.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

from sdk.billing.units import parse_marker
from sdk.terms import tokyo_today
from tests.chaos.races import check_races

if TYPE_CHECKING:
    from tests.chaos.harness import Report, Stand


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


def _whereabouts(stand: Stand, deal: str) -> str:
    """What our side knows of a deal that did not end with one invoice: its ledger row, its last history events,
    its queue messages, what the deal shows — so a failure on a fresh seed says where to look before a replay."""

    row = stand.store.get_ledger(stand.settings.hubspot_portal_id or 0, deal)
    ledger = (
        "no ledger row"
        if row is None
        else f"ledger {row.state} attempts={row.attempts} claimed_until={row.claim_until} intents={row.intents}"
        f" invoice={row.invoice.invoice_id if row.invoice else None} error={(row.last_error or '')[:160]!r}"
    )
    history = stand.store.history(stand.settings.hubspot_portal_id or 0, deal)[-4:]
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
