"""Small builders for the worlds tests need: HubSpot-shaped deals, line items, companies and contacts."""

from __future__ import annotations

from itertools import count
from typing import Any

from sdk.models.hubspot import Company, Contact, Deal, DealBundle, LineItem

_ids = count(1000)

VALID_REGISTRATION = "T7000012050002"  # 国税庁's own corporate number: a real, valid check digit


def _props(values: dict[str, Any]) -> dict[str, str | None]:
    return {k: (None if v is None else str(v)) for k, v in values.items()}


def line_item(
    name: str = "クラウド会計ライセンス", quantity: Any = 1, price: Any = 10000, **props: Any
) -> LineItem:
    return LineItem(
        id=str(next(_ids)), properties=_props({"name": name, "quantity": quantity, "price": price, **props})
    )


def company(name: str | None = "株式会社サンプル商事", **props: Any) -> Company:
    return Company(id=str(next(_ids)), properties=_props({"name": name, **props}))


def contact(lastname: str = "山田", firstname: str = "太郎", email: str = "taro@example.co.jp") -> Contact:
    return Contact(
        id=str(next(_ids)), properties=_props({"lastname": lastname, "firstname": firstname, "email": email})
    )


_DEFAULT_COMPANY = object()


def bundle(
    *items: LineItem,
    amount: Any = None,
    name: str | None = "【受注】会計導入支援",
    closedate: str | None = "2026-11-20T03:00:00Z",
    company_: Company | object | None = _DEFAULT_COMPANY,
    contact_: Contact | None = None,
    portal_id: int = 24681357,
    **deal_props: Any,
) -> DealBundle:
    deal = Deal(
        id=str(next(_ids)),
        properties=_props({"dealname": name, "amount": amount, "closedate": closedate, **deal_props}),
    )
    chosen = company() if company_ is _DEFAULT_COMPANY else company_
    return DealBundle(
        portal_id=portal_id, deal=deal, line_items=list(items), company=chosen, contact=contact_
    )


class RecordingQueue:
    """A queue that keeps what it is sent (a handler's only effect besides the store); ``fail``: every send
    raises, as a queue that is down."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send(self, body: dict[str, Any], *, delay: float = 0) -> str:
        if self.fail:
            raise ConnectionError("queue down")
        self.sent.append(body)
        return str(len(self.sent))

    def send_many(self, bodies: list[dict[str, Any]]) -> list[str]:
        return [self.send(body) for body in bodies]
