"""Which freee partner (取引先) a HubSpot company is.

Never a second partner for one company, never two companies merged because their names match:

1. the link the store already holds;
2. the company's ``freee_partner_id`` (an operator may set it by hand to link an existing partner);
3. the partner whose code is derived from the company id (``HS-{company_id}``), when freee uses partner codes;
4. else a new partner. If freee refuses it because the code or name exists, the partner found by that code, or
   by the ``HubSpot {company_id}`` shortcut this package writes, is ours (another worker created it a moment
   ago); any other partner of that name belongs to someone else: that is a conflict for a person to resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sdk.errors import PartnerConflict, Problem
from sdk.freee.errors import FreeeValidationError
from sdk.mapping import build_partner_request, partner_code, partner_shortcut
from sdk.models.hubspot import Company, DealBundle
from sdk.usecases.context import Context


@dataclass(frozen=True, slots=True)
class PartnerChoice:
    partner_id: int
    how: str  # linked | company_property | found_by_code | created | adopted


def resolve_partner(
    ctx: Context, bundle: DealBundle, company: Company, *, before_write: Callable[[], None] | None = None
) -> PartnerChoice:
    """``before_write`` runs right before the partner is created in freee (the invoice process renews its lease
    there, and raises to send nothing)."""
    settings = ctx.settings
    portal = bundle.portal_id
    linked = ctx.store.partner_for_company(portal, company.id)
    if linked is not None:
        return PartnerChoice(linked, "linked")
    raw = company.prop(settings.properties.company_partner_id)
    if raw is not None and raw.strip().isdigit() and int(raw) > 0:
        return PartnerChoice(ctx.store.link_partner(portal, company.id, int(raw)), "company_property")
    code = partner_code(company.id, settings)
    if settings.freee_use_partner_codes:
        found = ctx.freee.get_partner_by_code(code)
        if found is not None:
            return PartnerChoice(ctx.store.link_partner(portal, company.id, found.id), "found_by_code")
    contact = bundle.contact
    if contact is None and bundle.contact_id is not None:
        contact = ctx.hubspot.read_contact(bundle.contact_id)
    request = build_partner_request(
        company,
        contact,
        settings,
        company_id=ctx.freee.company_id,
        with_code=settings.freee_use_partner_codes,
    )
    try:
        created = ctx.freee.create_partner(request, before_send=before_write)
    except FreeeValidationError as refused:
        ours = _ours_after_refusal(ctx, company, code)
        if ours is not None:
            return PartnerChoice(ctx.store.link_partner(portal, company.id, ours), "adopted")
        raise PartnerConflict(_conflict(company, refused)) from refused
    return PartnerChoice(ctx.store.link_partner(portal, company.id, created.id), "created")


def _ours_after_refusal(ctx: Context, company: Company, code: str) -> int | None:
    if ctx.settings.freee_use_partner_codes:
        found = ctx.freee.get_partner_by_code(code)
        if found is not None:
            return found.id
    shortcut = partner_shortcut(company.id)
    for partner in ctx.freee.search_partners(company.name or "", limit=100):
        if partner.shortcut1 == shortcut:
            return partner.id
    return None


def _conflict(company: Company, refused: FreeeValidationError) -> Problem:
    said = "; ".join(refused.messages) or str(refused)
    name = company.name or company.id
    return Problem(
        "company.partner_conflict",
        "company.name",
        f"freeeが取引先「{name}」の登録を拒否しました（{said}）。同じ名前の別の取引先がある場合、自動では統合しません。"
        "正しい取引先のIDを会社の「freee取引先ID」に入力するか、会社名を区別できるように変えてから再実行してください。",
        f"freee refused to register the partner {name!r} ({said}). When another partner has the same name, they are "
        "never merged automatically: put the right partner's id in the company's 'freee partner ID', or make the "
        "company name distinct, then run it again.",
    )
