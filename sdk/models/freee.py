"""What is sent to and read from freee, named as in the official documents (``specs/freee``).

Requests are strict (``extra="forbid"``: a typo is a bug, not a silently dropped field) and serialise with
``model_dump(mode="json", exclude_none=True)``. Responses ignore fields they do not know, so a new field in
freee's answer never breaks a sync. freee returns amounts as JSON numbers (``110000.0``); they become ``int``
yen here, and a fractional amount is refused rather than rounded.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _whole_yen(value: object) -> object:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"amount {value!r} is not a whole number of yen")
        return int(value)
    if isinstance(value, str) and value.strip():
        number = Decimal(value)
        if number != number.to_integral_value():
            raise ValueError(f"amount {value!r} is not a whole number of yen")
        return int(number)
    return value


Yen = Annotated[int, BeforeValidator(_whole_yen)]
PartnerTitle = Literal["御中", "様", "(空白)"]
Fraction = Literal["omit", "round_up", "round"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


# ---------------------------------------------------------------------------------------------- partners


class PartnerAddress(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    zipcode: str | None = Field(default=None, max_length=8)
    prefecture_code: int | None = Field(default=None, ge=-1, le=46)
    street_name1: str | None = Field(default=None, max_length=255)
    street_name2: str | None = Field(default=None, max_length=255)


class PartnerCreateRequest(_Request):
    """Body of ``POST /api/1/partners`` (``partnerCreateParams``)."""

    company_id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=255)
    code: str | None = Field(default=None, max_length=255)
    shortcut1: str | None = Field(default=None, max_length=255)
    long_name: str | None = Field(default=None, max_length=255)
    name_kana: str | None = Field(default=None, max_length=255)
    default_title: PartnerTitle | None = None
    phone: str | None = None
    contact_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    country_code: Literal["JP", "ZZ"] = "JP"
    qualified_invoice_issuer: bool | None = None
    invoice_registration_number: str | None = Field(default=None, pattern=r"^T?[1-9][0-9]{12}$")
    address_attributes: PartnerAddress | None = None


class Partner(_Response):
    """A partner (取引先) as ``GET /api/1/partners[/...]`` returns it."""

    id: int
    company_id: int
    name: str
    code: str | None = None
    update_date: str | None = None
    available: bool = True
    shortcut1: str | None = None
    long_name: str | None = None
    default_title: str | None = None
    qualified_invoice_issuer: bool | None = None
    invoice_registration_number: str | None = None
    address_attributes: PartnerAddress | None = None


# ---------------------------------------------------------------------------------------------- invoices


class InvoiceLineRequest(_Request):
    """One line of ``POST /iv/invoices`` (``InvoiceRequest_lines``): an item, or a text line (``type`` ``text``: a
    heading, freee keeps only its description)."""

    type: Literal["item", "text"] = "item"
    description: str = Field(min_length=1, max_length=255)
    sales_date: date | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=255)
    quantity: Decimal | None = Field(
        default=None, ge=Decimal("-99999999.999"), le=Decimal("99999999.999"), decimal_places=3
    )
    unit_price: str | None = Field(default=None, pattern=r"^-?[0-9]{0,13}(\.[0-9]{1,3})?$")
    tax_rate: Literal[0, 8, 10] | None = None
    reduced_tax_rate: bool = False
    withholding: bool = False

    @model_validator(mode="after")
    def _item_has_its_figures(self) -> InvoiceLineRequest:
        if self.type == "item" and (
            self.quantity is None or self.unit_price is None or self.tax_rate is None
        ):
            raise ValueError("an item line has a quantity, a unit price and a tax rate")
        return self

    @classmethod
    def text(cls, description: str) -> InvoiceLineRequest:
        return cls(type="text", description=description)

    def to_json(self) -> dict[str, object]:
        if self.type == "text":
            return {"type": "text", "description": self.description}
        body = super().to_json()
        if self.quantity is not None:
            # JSON ``number`` as the spec says; Decimal keeps it exact until here (at most 3 decimal places).
            body["quantity"] = (
                int(self.quantity)
                if self.quantity == self.quantity.to_integral_value()
                else float(self.quantity)
            )
        return body


class InvoiceRequest(_Request):
    """Body of ``POST /iv/invoices`` (``InvoiceRequest``)."""

    company_id: int = Field(ge=1)
    template_id: int | None = Field(default=None, ge=1)
    billing_date: date
    payment_date: date | None = None
    payment_type: Literal["transfer", "direct_debit", "card"] = "transfer"
    subject: str | None = Field(default=None, min_length=1, max_length=255)
    tax_entry_method: Literal["in", "out"]
    tax_fraction: Fraction
    line_amount_fraction: Fraction | None = None
    withholding_tax_entry_method: Literal["in", "out"] = "out"
    invoice_note: str | None = Field(default=None, max_length=4000)
    memo: str | None = Field(default=None, min_length=1, max_length=2000)
    partner_id: int | None = Field(default=None, ge=1)
    partner_code: str | None = None
    partner_title: PartnerTitle
    partner_contact_name: str | None = Field(default=None, min_length=1, max_length=255)
    partner_contact_email_to: str | None = Field(default=None, min_length=1, max_length=255)
    lines: list[InvoiceLineRequest] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_partner(self) -> InvoiceRequest:
        if (self.partner_id is None) == (self.partner_code is None):
            raise ValueError("name the partner by exactly one of partner_id or partner_code")
        return self

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        body["lines"] = [line.to_json() for line in self.lines]
        return body


class InvoiceLine(_Response):
    id: int
    type: Literal["item", "text"] = "item"
    description: str = ""
    quantity: Decimal | None = None
    unit_price: str | None = None
    tax_rate: int | None = None
    reduced_tax_rate: bool = False
    withholding: bool = False
    amount_excluding_tax: Yen | None = None


InvoicePaymentStatus = Literal["settled", "unsettled", "canceled", "unprocessed", "failed"]


class Invoice(_Response):
    """An invoice as ``GET /iv/invoices[/{id}]`` and ``POST /iv/invoices`` return it."""

    id: int
    company_id: int
    invoice_number: str
    subject: str | None = None
    billing_date: date
    payment_date: date | None = None
    memo: str | None = None
    sending_status: Literal["sent", "unsent"] | None = None
    payment_status: InvoicePaymentStatus
    cancel_status: Literal["canceled", "uncanceled"]
    deal_status: Literal["registered", "unregistered"]
    deal_id: int | None = None
    total_amount: Yen
    amount_including_tax: Yen
    amount_excluding_tax: Yen
    amount_tax: Yen
    partner_id: int
    partner_code: str | None = None
    partner_name: str | None = None
    report_url: str
    lines: list[InvoiceLine] = Field(default_factory=list)

    @property
    def is_canceled(self) -> bool:
        return self.cancel_status == "canceled"


# -------------------------------------------------------------------------------- accounting deals (取引)


class DealPayment(_Response):
    id: int
    date: date
    amount: Yen
    from_walletable_type: str | None = None
    from_walletable_id: int | None = None


class AccountingDeal(_Response):
    """An accounting deal (取引) with its payments, from ``GET /api/1/deals[/{id}]``."""

    id: int
    company_id: int
    issue_date: date
    due_date: date | None = None
    amount: Yen
    due_amount: Yen = 0
    type: Literal["income", "expense"] | None = None
    partner_id: int | None = None
    ref_number: str | None = None
    status: Literal["unsettled", "settled"]
    payments: list[DealPayment] = Field(default_factory=list)

    @property
    def paid_amount(self) -> int:
        return self.amount - self.due_amount


# ------------------------------------------------------------------------------------------------ errors


class FreeeErrorDetail(_Response):
    type: str | None = None
    messages: list[str] | str = Field(default_factory=list)


class FreeeErrorBody(_Response):
    """freee's error shape: ``{"status_code": 400, "errors": [{"type": "validation", "messages": [...]}]}``."""

    status_code: int | None = None
    errors: list[FreeeErrorDetail] = Field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        out: list[str] = []
        for detail in self.errors:
            out.extend([detail.messages] if isinstance(detail.messages, str) else detail.messages)
        return out
