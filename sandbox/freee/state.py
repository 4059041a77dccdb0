"""Everything the freee sandbox holds: partners, invoices, accounting deals (取引) and payments, with the OAuth
token state of :class:`~sandbox.freee.oauth.OAuthState`."""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sandbox.freee.errors import _invalid, _not_found
from sandbox.freee.facts import (
    _COMPANY,
    _RATE_GROUPS,
    _SALES_ACCOUNT_ITEM_ID,
    _TAX_CODES,
    _TEMPLATES,
    INVOICE_ORDERS,
    JST,
    REPORT_URL,
)
from sandbox.freee.fields import _number_out
from sandbox.freee.invoices import _compute_totals, _InvoiceInput
from sandbox.freee.oauth import OAuthState
from sandbox.freee.partners import _blank_partner, _merge
from sandbox.freee.ratelimit import _RateLimiter
from sdk.clock import Clock


@dataclass(kw_only=True, eq=False)
class FreeeState(OAuthState):
    """Everything the sandbox holds. Every method takes :attr:`lock`: the app is served multi-threaded."""

    clock: Clock
    company_id: int
    use_partner_codes: bool
    auto_register_deals: bool
    client_id: str
    client_secret: str
    access_token_ttl: float
    limiter: _RateLimiter
    invoice_order: str = "newest_first"
    invoice_order_seed: int = 0
    lock: threading.RLock = field(init=False, default_factory=threading.RLock)

    def __post_init__(self) -> None:
        if self.invoice_order not in INVOICE_ORDERS:
            raise ValueError(f"invoice_order must be one of {', '.join(INVOICE_ORDERS)}")
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.partners: dict[int, dict[str, Any]] = {}
            self.invoices: dict[int, dict[str, Any]] = {}
            self.deals: dict[int, dict[str, Any]] = {}
            self.deal_invoice: dict[int, int] = {}
            self._reset_tokens()
            self.api_calls = 0
            self._ids: Counter[str] = Counter()
            self.limiter.reset()

    # ---------------------------------------------------------------------------------------- helpers

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def today(self) -> date:
        return self.clock.now().astimezone(JST).date()

    def check_company(self, company_id: int) -> None:
        if company_id != self.company_id:
            raise _invalid(
                f"指定された事業所（company_id: {company_id}）は存在しないか、アクセス権限がありません。"
            )

    # --------------------------------------------------------------------------------------- partners

    def _partner_by_name(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.partners.values() if p["name"] == name), None)

    def _partner_by_code(self, code: str) -> dict[str, Any] | None:
        return next((p for p in self.partners.values() if p["code"] == code), None)

    def create_partner(
        self, name: str, code: str | None, attributes: Mapping[str, Any], *, seeding: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            problems = []
            if not name.strip():
                problems.append("取引先名（name）を入力してください。")
            elif self._partner_by_name(name) is not None:
                problems.append(f"取引先名「{name}」は既に使用されています。")
            if self.use_partner_codes:
                if code is None and not seeding:
                    problems.append("取引先コードの利用が有効な事業所では code の指定が必須です。")
                elif code is not None and self._partner_by_code(code) is not None:
                    problems.append(f"取引先コード「{code}」は既に使用されています。")
            elif code is not None:
                problems.append("取引先コードの利用が無効な事業所では code を指定できません。")
            if problems:
                raise _invalid(problems)
            partner = _blank_partner()
            partner.update(id=self._next("partner"), company_id=self.company_id, name=name, code=code)
            _merge(partner, attributes)
            partner["update_date"] = self.today().isoformat()
            self.partners[partner["id"]] = partner
            return self._out(partner)

    def update_partner(
        self, partner_id: int, name: str | None, attributes: Mapping[str, Any]
    ) -> dict[str, Any]:
        with self.lock:
            partner = self.partners[partner_id]
            if name is not None and name != partner["name"]:
                if not name.strip():
                    raise _invalid("取引先名（name）を入力してください。")
                if self._partner_by_name(name) is not None:
                    raise _invalid(f"取引先名「{name}」は既に使用されています。")
                partner["name"] = name
            _merge(partner, attributes)
            partner["update_date"] = self.today().isoformat()
            return self._out(partner)

    def get_partner(self, partner_id: int) -> dict[str, Any]:
        with self.lock:
            partner = self.partners.get(partner_id)
            if partner is None:
                raise _not_found("取引先")
            return self._out(partner)

    def require_partner_codes(self) -> None:
        if not self.use_partner_codes:
            raise _invalid("取引先コードの利用が無効な事業所では、取引先コードによる操作はできません。")

    def get_partner_by_code(self, code: str) -> dict[str, Any]:
        with self.lock:
            self.require_partner_codes()
            partner = self._partner_by_code(code)
            if partner is None:
                raise _not_found("取引先")
            return self._out(partner)

    def upsert_partner_by_code(
        self, code: str, name: str, attributes: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        with self.lock:
            self.require_partner_codes()
            existing = self._partner_by_code(code)
            if existing is None:
                return self.create_partner(name, code, attributes), True
            return self.update_partner(existing["id"], name, attributes), False

    def list_partners(
        self,
        *,
        keyword: str | None = None,
        start_update_date: date | None = None,
        end_update_date: date | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        with self.lock:
            words = [w for w in re.split(r"[ \u3000\t]+", keyword or "") if w]
            found = []
            for partner in sorted(self.partners.values(), key=lambda p: p["id"]):
                if not partner["available"]:
                    continue
                haystack = [
                    partner.get(k) or ""
                    for k in ("code", "name", "long_name", "name_kana", "shortcut1", "shortcut2")
                ]
                if any(not any(w in text for text in haystack) for w in words):
                    continue
                updated = date.fromisoformat(partner["update_date"])
                if start_update_date and updated < start_update_date:
                    continue
                if end_update_date and updated > end_update_date:
                    continue
                found.append(partner)
            return [self._out(p) for p in found[offset : offset + limit]]

    def all_partners(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._out(self.partners[k]) for k in sorted(self.partners)]

    def _out(self, partner: dict[str, Any]) -> dict[str, Any]:
        """A copy to answer with: the code hidden unless the company uses codes, and unset enums left out
        (OpenAPI 3.0 ``nullable`` does not let ``null`` through an ``enum`` that does not list it)."""
        out = copy.deepcopy(partner)
        if not self.use_partner_codes:
            out["code"] = None
        for group, key in (
            ("partner_doc_setting_attributes", "sending_method"),
            ("partner_bank_account_attributes", "account_type"),
        ):
            if out[group].get(key) is None:
                out[group].pop(key, None)
        return out

    # --------------------------------------------------------------------------------------- invoices

    def create_invoice(self, data: _InvoiceInput) -> dict[str, Any]:
        with self.lock:
            self.check_company(data.company_id)
            problems = []
            partner: dict[str, Any] | None = None
            if data.partner_code is not None:
                if not self.use_partner_codes:
                    problems.append("取引先コードの利用が無効な事業所では partner_code を指定できません。")
                else:
                    partner = self._partner_by_code(data.partner_code)
                    if partner is None:
                        problems.append(f"取引先コード「{data.partner_code}」の取引先が存在しません。")
            if data.partner_id is not None:
                by_id = self.partners.get(data.partner_id)
                if by_id is None:
                    problems.append(f"取引先ID {data.partner_id} の取引先が存在しません。")
                elif partner is not None and partner["id"] != by_id["id"]:
                    problems.append("partner_id と partner_code が別の取引先を指しています。")
                partner = partner or by_id
            if partner is not None and not partner["available"]:
                problems.append("使用できない取引先が指定されています。")
            template_id = data.template_id or _TEMPLATES[0]["id"]
            template = next((t for t in _TEMPLATES if t["id"] == template_id), None)
            if template is None:
                problems.append(f"帳票テンプレートID {template_id} のテンプレートが存在しません。")
            if problems or partner is None or template is None:
                raise _invalid(problems)
            totals = _compute_totals(data)
            invoice_id = self._next("invoice")
            number = data.invoice_number or f"INV-{self._next('invoice_number'):010d}"
            forward: int | None = None
            if data.include_amount_brought_forward:
                forward = (
                    data.amount_brought_forward
                    if data.amount_brought_forward is not None
                    else sum(
                        d["due_amount"]
                        for d in self.deals.values()
                        if d["partner_id"] == partner["id"] and d["status"] == "unsettled"
                    )
                )
            address = partner["address_attributes"]
            opt = data.optional
            record: dict[str, Any] = {
                "id": invoice_id,
                "company_id": self.company_id,
                "invoice_number": number,
                "branch_no": data.branch_no,
                "subject": data.subject or "",
                "template_id": template_id,
                "template_name": template["name"],
                "billing_date": data.billing_date.isoformat(),
                "issue_date": (data.issue_date or data.billing_date).isoformat(),
                "payment_date": data.payment_date.isoformat() if data.payment_date else None,
                "payment_type": data.payment_type,
                "invoice_note": data.invoice_note or "",
                "memo": data.memo or "",
                "sending_status": "unsent",
                "payment_status": "unsettled",
                "cancel_status": "uncanceled",
                "deal_status": "unregistered",
                "deal_id": None,
                "tax_entry_method": data.tax_entry_method,
                "tax_fraction": data.tax_fraction,
                "line_amount_fraction": data.line_amount_fraction or "omit",
                "withholding_tax_entry_method": data.withholding_tax_entry_method,
                "total_amount": float(totals.including - totals.withholding + (forward or 0)),
                "created_at": self.clock.now().astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
                "amount_withholding_tax": float(totals.withholding),
                "amount_including_tax": float(totals.including),
                "amount_excluding_tax": float(totals.excluding),
                "amount_tax": float(totals.tax),
                "amount_brought_forward": None if forward is None else float(forward),
                "partner_id": partner["id"],
                "partner_code": partner["code"] if self.use_partner_codes else None,
                "partner_name": partner["name"],
                "partner_title": data.partner_title,
                "partner_address_zipcode": opt.get("partner_address_zipcode", address.get("zipcode")),
                "partner_address_prefecture_code": opt.get(
                    "partner_address_prefecture_code", address.get("prefecture_code")
                ),
                "partner_address_street_name1": opt.get(
                    "partner_address_street_name1", address.get("street_name1")
                ),
                "partner_address_street_name2": opt.get(
                    "partner_address_street_name2", address.get("street_name2")
                ),
                "partner_contact_department": opt.get("partner_contact_department"),
                "partner_contact_email_cc": opt.get("partner_contact_email_cc"),
                "partner_contact_email_to": opt.get("partner_contact_email_to", partner.get("email")),
                "partner_contact_name": opt.get("partner_contact_name", partner.get("contact_name")),
                "partner_display_name": opt.get(
                    "partner_display_name", partner.get("long_name") or partner["name"]
                ),
                "partner_bank_account": opt.get("partner_bank_account"),
                "partner_sending_method": opt.get("partner_sending_method"),
                "company_contact_name": opt.get("company_contact_name", _COMPANY["contact"]),
                "company_name": opt.get("company_name", _COMPANY["name"]),
                "company_description": opt.get("company_description", _COMPANY["description"]),
                "bank_account_to_transfer": opt.get("bank_account_to_transfer", _COMPANY["bank_account"]),
                "template": {
                    "title": "請求書",
                    "invoice_registration_number": _COMPANY["registration_number"],
                    "company_name": _COMPANY["name"],
                    "company_description": _COMPANY["description"],
                    "bank_account_to_transfer": _COMPANY["bank_account"],
                    "message": "下記の通りご請求申し上げます。",
                },
                "lines": [],
                "email_url_file_downloaded_at": None,
                "email_url_file_downloaded_status": None,
                "report_url": REPORT_URL.format(id=invoice_id),
                "sales_management_origin": False,
            }
            for key, _, _ in _RATE_GROUPS:
                group = totals.groups[key]
                including, excluding, tax = group if group is not None else (0, 0, 0)
                record[f"amount_including_tax_{key}"] = float(including)
                record[f"amount_excluding_tax_{key}"] = float(excluding)
                record[f"amount_tax_{key}"] = float(tax)
            for line, line_excluding in zip(data.lines, totals.line_excluding, strict=True):
                record["lines"].append(
                    {
                        "id": self._next("invoice_line"),
                        "type": line.type,
                        "description": line.description,
                        "sales_date": line.sales_date.isoformat() if line.sales_date else None,
                        "unit": line.unit,
                        "quantity": None if line.quantity is None else _number_out(line.quantity),
                        "unit_price": line.unit_price if line.type == "item" else None,
                        "tax_rate": line.tax_rate,
                        "reduced_tax_rate": line.reduced_tax_rate,
                        "withholding": line.withholding,
                        "amount_excluding_tax": None if line_excluding is None else float(line_excluding),
                        "account_item_id": line.extra.get("account_item_id"),
                        "tax_code": line.extra.get("tax_code"),
                        "item_id": line.extra.get("item_id"),
                        "section_id": line.extra.get("section_id"),
                        "tag_ids": line.extra.get("tag_ids", []),
                        "segment_1_tag_id": line.extra.get("segment_1_tag_id"),
                        "segment_2_tag_id": line.extra.get("segment_2_tag_id"),
                        "segment_3_tag_id": line.extra.get("segment_3_tag_id"),
                    }
                )
            self.invoices[invoice_id] = record
            if self.auto_register_deals:
                self._register(record)
            return copy.deepcopy(record)

    def _invoice(self, invoice_id: int) -> dict[str, Any]:
        record = self.invoices.get(invoice_id)
        if record is None:
            raise _not_found("請求書")
        return record

    def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._invoice(invoice_id))

    def all_invoices(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy([self.invoices[k] for k in sorted(self.invoices)])

    def list_invoices(self, filters: Mapping[str, Any], offset: int, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            found = []
            for record in sorted(self.invoices.values(), key=self._listing_key):
                if not _invoice_matches(record, filters):
                    continue
                found.append(record)
            return copy.deepcopy(found[offset : offset + limit])

    def _listing_key(self, record: Mapping[str, Any]) -> tuple[int, int]:
        """Where ``GET /iv/invoices`` lists an invoice (:data:`INVOICE_ORDERS`); stable across pages."""
        invoice_id = int(record["id"])
        if self.invoice_order == "oldest_first":
            return (invoice_id, 0)
        if self.invoice_order == "shuffled":
            digest = hashlib.blake2b(f"{self.invoice_order_seed}:{invoice_id}".encode(), digest_size=8)
            return (int.from_bytes(digest.digest(), "big"), invoice_id)
        return (-invoice_id, 0)

    def cancel_invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            record = self._invoice(invoice_id)
            if record["cancel_status"] == "canceled":
                raise _invalid("この請求書は既に取消済みです。")
            deal_id = record["deal_id"]
            if deal_id is not None:
                if self.deals[deal_id]["payments"]:
                    raise _invalid("入金が登録された取引が紐づいているため、請求書を取消できません。")
                del self.deals[deal_id]  # freee deletes the linked deal with the invoice
                self.deal_invoice.pop(deal_id, None)
            record.update(cancel_status="canceled", deal_status="unregistered", deal_id=None)
            return copy.deepcopy(record)

    def uncancel_invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            record = self._invoice(invoice_id)
            if record["cancel_status"] != "canceled":
                raise _invalid("この請求書は取消されていません。")
            record["cancel_status"] = "uncanceled"
            if self.auto_register_deals:
                self._register(record)
            return copy.deepcopy(record)

    # ------------------------------------------------------------------------------------------ deals

    def _register(self, record: dict[str, Any]) -> dict[str, Any]:
        if record["deal_id"] is not None:
            return self.deals[record["deal_id"]]
        if record["cancel_status"] == "canceled":
            raise _invalid("取消済みの請求書の取引は登録できません。")
        amount = int(record["amount_including_tax"])
        biggest = max(
            (key for key, _, _ in _RATE_GROUPS),
            key=lambda key: abs(record[f"amount_including_tax_{key}"] or 0),
        )
        partner = self.partners[record["partner_id"]]
        deal = {
            "id": self._next("deal"),
            "company_id": self.company_id,
            "issue_date": record["issue_date"] or record["billing_date"],
            "due_date": record["payment_date"],
            "amount": amount,
            "due_amount": amount,
            "type": "income",
            "partner_id": partner["id"],
            "partner_code": partner["code"] if self.use_partner_codes else None,
            "ref_number": record["invoice_number"],
            "status": "settled" if amount == 0 else "unsettled",
            "details": [
                {
                    "id": self._next("deal_detail"),
                    "account_item_id": _SALES_ACCOUNT_ITEM_ID,
                    "tax_code": _TAX_CODES[biggest],
                    "partner_id": partner["id"],
                    "item_id": None,
                    "section_id": None,
                    "tag_ids": [],
                    "amount": amount,
                    "vat": int(record["amount_tax"]),
                    "entry_side": "credit",
                }
            ],
            "payments": [],
            "renews": [],
            "receipts": [],
        }
        self.deals[deal["id"]] = deal
        self.deal_invoice[deal["id"]] = record["id"]
        record.update(deal_status="registered", deal_id=deal["id"])
        if deal["status"] == "settled":
            record["payment_status"] = "settled"
        return deal

    def register_deal(self, invoice_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._register(self._invoice(invoice_id)))

    def pay(self, invoice_id: int, amount: int, on: date) -> dict[str, Any]:
        with self.lock:
            record = self._invoice(invoice_id)
            if record["cancel_status"] == "canceled":
                raise _invalid("取消済みの請求書には入金を登録できません。")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise _invalid("入金額（amount）は1円以上の整数で指定してください。")
            deal = self._register(record)
            if amount > deal["due_amount"]:
                raise _invalid(f"入金額 {amount} 円が未決済残高 {deal['due_amount']} 円を超えています。")
            deal["payments"].append(
                {
                    "id": self._next("payment"),
                    "date": on.isoformat(),
                    "from_walletable_type": "bank_account",
                    "from_walletable_id": 1,
                    "amount": amount,
                }
            )
            deal["due_amount"] -= amount
            if deal["due_amount"] == 0:
                deal["status"] = "settled"
                record["payment_status"] = "settled"
            return copy.deepcopy(deal)

    def get_deal(self, deal_id: int) -> dict[str, Any]:
        with self.lock:
            deal = self.deals.get(deal_id)
            if deal is None:
                raise _not_found("取引")
            return copy.deepcopy(deal)

    def all_deals(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy([self.deals[k] for k in sorted(self.deals)])

    def list_deals(
        self, filters: Mapping[str, Any], offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        with self.lock:
            found = []
            for deal in sorted(self.deals.values(), key=lambda d: d["id"], reverse=True):
                if filters.get("partner_id") is not None and deal["partner_id"] != filters["partner_id"]:
                    continue
                if (
                    filters.get("partner_code") is not None
                    and deal["partner_code"] != filters["partner_code"]
                ):
                    continue
                if filters.get("status") and deal["status"] != filters["status"]:
                    continue
                if filters.get("type") and deal["type"] != filters["type"]:
                    continue
                if not _in_dates(
                    deal["issue_date"], filters.get("start_issue_date"), filters.get("end_issue_date")
                ):
                    continue
                if not _in_dates(
                    deal["due_date"], filters.get("start_due_date"), filters.get("end_due_date")
                ):
                    continue
                found.append(deal)
            return copy.deepcopy(found[offset : offset + limit]), len(found)

    # ---------------------------------------------------------------------------------------- summary

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            now = self._now()
            locked = self.limiter.locked_until
            return {
                "company_id": self.company_id,
                "partners": self.all_partners(),
                "invoices": self.all_invoices(),
                "deals": self.all_deals(),
                "tokens": self.token_stats(),
                "api_calls": self.api_calls,
                "rate_limit": {
                    "calls_last_minute": sum(1 for t in self.limiter.calls if t > now - 60),
                    "calls_last_hour": sum(1 for t in self.limiter.calls if t > now - 3600),
                    "consecutive_429s": self.limiter.consecutive_429s,
                    "locked_for_seconds": max(0.0, locked - now) if locked is not None else 0.0,
                },
            }


def _in_dates(value: str | None, start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    if value is None:
        return False
    day = date.fromisoformat(value)
    return (start is None or day >= start) and (end is None or day <= end)


def _invoice_matches(record: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    if filters.get("partner_ids") and record["partner_id"] not in filters["partner_ids"]:
        return False
    for name in ("payment_status", "deal_status", "sending_status", "cancel_status", "invoice_number"):
        if filters.get(name) is not None and record[name] != filters[name]:
            return False
    if filters.get("subject") and filters["subject"] not in record["subject"]:
        return False
    if not _in_dates(
        record["billing_date"], filters.get("start_billing_date"), filters.get("end_billing_date")
    ):
        return False
    return _in_dates(
        record["payment_date"], filters.get("start_payment_date"), filters.get("end_payment_date")
    )
