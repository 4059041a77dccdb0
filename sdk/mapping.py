"""Pure functions from HubSpot records to freee requests.

* :func:`build_invoice_request` — a validated deal (:class:`~sdk.validation.InvoiceDraft`) → ``POST /iv/invoices``.
* :func:`build_partner_request` — a HubSpot company (+ primary contact) → ``POST /api/1/partners``.

The marker that ties a freee invoice to its deal (or period, or consolidated window) is the unit's
(:meth:`sdk.billing.units.Unit.marker`, read back by :func:`sdk.billing.units.parse_marker`).

Where the marker lives: freee accepts no idempotency key and its invoice list cannot search the internal memo,
but it lists by ``partner_ids`` and billing-date range and returns each invoice's ``memo``. The marker therefore
goes into ``memo`` (社内メモ, never printed for the customer), and a lost invoice is found again by listing the
partner's invoices on the billing date and matching the marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sdk.models.freee import InvoiceLineRequest, InvoiceRequest, PartnerAddress, PartnerCreateRequest
from sdk.models.hubspot import Company, Contact
from sdk.money import plain
from sdk.validation import InvoiceDraft

if TYPE_CHECKING:
    from sdk.settings import Settings

# 都道府県コード as freee numbers them (0 = 北海道 … 46 = 沖縄), JIS X 0401 order.
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
_ZIP = re.compile(r"^([0-9]{3})-?([0-9]{4})$")


@dataclass(frozen=True, slots=True)
class PartnerRef:
    """How an invoice names its partner: freee's id when known, else the code derived from the company."""

    id: int | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if (self.id is None) == (self.code is None):
            raise ValueError("a partner is named by exactly one of id or code")


def partner_code(hubspot_company_id: str, settings: Settings) -> str:
    """The freee partner code derived from a HubSpot company id (setting ``freee_partner_code_pattern``)."""
    return settings.freee_partner_code_pattern.format(company_id=hubspot_company_id)


def partner_shortcut(hubspot_company_id: str) -> str:
    """``shortcut1`` of every partner this package creates: how a partner is known to be a company's own."""
    return f"HubSpot {hubspot_company_id}"


def _fit(value: str | None, limit: int = 255) -> str | None:
    """Optional contact details that freee would refuse (too long) are left out rather than failing the partner."""
    return value if value is not None and len(value) <= limit else None


def prefecture_code(state: str | None) -> int | None:
    """freee's prefecture code for a HubSpot ``state`` such as 東京都, 東京 or Tokyo; ``None`` when unknown."""
    if not state:
        return None
    text = state.strip()
    for code, name in enumerate(PREFECTURES):
        short = name[:-1] if name[-1] in "都府県" else name
        if text in (name, short):
            return code
    romaji = {
        "hokkaido": 0,
        "tokyo": 12,
        "osaka": 26,
        "kyoto": 25,
        "kanagawa": 13,
        "aichi": 22,
        "fukuoka": 39,
    }
    return romaji.get(text.lower().removesuffix("-to").removesuffix("-fu").removesuffix(" prefecture"))


def build_partner_request(
    company: Company, contact: Contact | None, settings: Settings, *, company_id: int, with_code: bool
) -> PartnerCreateRequest:
    """A freee partner for a HubSpot company. ``with_code`` when the freee company uses partner codes."""
    names = settings.properties
    registration = company.prop(names.company_registration_number)
    zipcode = company.prop("zip")
    zip_match = _ZIP.match(zipcode.strip()) if zipcode else None
    street = " ".join(p for p in (company.prop("city"), company.prop("address")) if p) or None
    address = PartnerAddress(
        zipcode=f"{zip_match.group(1)}-{zip_match.group(2)}" if zip_match else None,
        prefecture_code=prefecture_code(company.prop("state")),
        street_name1=street[:255] if street else None,
        street_name2=(company.prop("address2") or "")[:255] or None,
    )
    name = (company.name or "").strip()
    return PartnerCreateRequest(
        company_id=company_id,
        name=name,
        code=partner_code(company.id, settings) if with_code else None,
        shortcut1=partner_shortcut(company.id),
        long_name=name,
        default_title=settings.invoice_partner_title,
        phone=company.prop("phone"),
        contact_name=_fit(contact.full_name) if contact else None,
        email=_fit(contact.email) if contact else None,
        qualified_invoice_issuer=True if registration else None,
        invoice_registration_number=registration.strip().upper() if registration else None,
        address_attributes=address if address.model_dump(exclude_none=True) else None,
    )


def build_invoice_request(
    draft: InvoiceDraft, settings: Settings, *, company_id: int, partner: PartnerRef
) -> InvoiceRequest:
    """The freee invoice for a validated deal, with the deal marker in the internal memo."""
    fraction = settings.tax.rounding.freee
    return InvoiceRequest(
        company_id=company_id,
        template_id=settings.freee_template_id,
        billing_date=draft.billing_date,
        payment_date=draft.due_date,
        subject=draft.subject,
        tax_entry_method=settings.tax.entry_method.value,
        tax_fraction=fraction,
        line_amount_fraction=fraction,
        withholding_tax_entry_method="out",
        memo=draft.unit.marker(draft.portal_id),
        partner_id=partner.id,
        partner_code=partner.code,
        partner_title=settings.invoice_partner_title,
        partner_contact_name=draft.contact_name,
        partner_contact_email_to=draft.contact_email,
        lines=[
            InvoiceLineRequest.text(line.description)
            if line.kind == "text"
            else InvoiceLineRequest(
                description=line.description,
                quantity=line.quantity,
                unit_price=plain(line.unit_price),
                tax_rate=line.rate.freee_tax_rate,
                reduced_tax_rate=line.rate.freee_reduced,
            )
            for line in draft.lines
        ],
    )


def known_partner(company: Company, settings: Settings) -> PartnerRef:
    """The partner as far as HubSpot knows: ``freee_partner_id`` on the company, else the derived code."""
    raw = company.prop(settings.properties.company_partner_id)
    if raw is not None and raw.strip().isdigit() and int(raw) > 0:
        return PartnerRef(id=int(raw))
    return PartnerRef(code=partner_code(company.id, settings))
