"""The API routes (partners, companies, invoices, deals) and the freee-only admin routes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from sandbox.admin import ADMIN_PREFIX, install_admin
from sandbox.freee.errors import _invalid
from sandbox.freee.facts import _COMPANY, _TEMPLATES, AUTH_CODE_TTL, MAX_INVOICE_WINDOW
from sandbox.freee.fields import _Fields
from sandbox.freee.invoices import _parse_invoice_request
from sandbox.freee.partners import _partner_attributes
from sandbox.freee.views import _company_detail, _invoice_view, _listed_partner
from sandbox.freee.web import _body, _company_from_query, _json, _path_id, _Query

if TYPE_CHECKING:
    from sandbox.freee.app import FreeeSandbox
    from sandbox.freee.state import FreeeState


def install_api_routes(app: Flask, state: FreeeState) -> None:
    """freee会計's partners, companies and deals under ``/api/1``, freee請求書's invoices under ``/iv``."""

    @app.get("/api/1/partners")
    def partners_index() -> Response:
        q = _Query()
        company_id = q.integer("company_id", required=True, minimum=1)
        offset, limit = q.page(max_limit=3000, default_limit=50)
        keyword = request.args.get("keyword")
        start, end = q.date("start_update_date"), q.date("end_update_date")
        q.raise_if_any()
        state.check_company(company_id or 0)
        found = state.list_partners(
            keyword=keyword, start_update_date=start, end_update_date=end, offset=offset, limit=limit
        )
        return _json({"partners": [_listed_partner(p) for p in found]})

    @app.post("/api/1/partners")
    def partners_create() -> Response:
        body, form = _body(allow_form=True)
        f = _Fields(body, form=form)
        company_id = f.integer("company_id", required=True, minimum=1)
        name = f.string("name", required=True, max_length=255)
        code = f.string("code", max_length=255)
        attributes = _partner_attributes(f)
        f.raise_if_any()
        state.check_company(company_id or 0)
        return _json({"partner": state.create_partner(name or "", code, attributes)}, 201)

    @app.get("/api/1/partners/<partner_id>")
    def partners_show(partner_id: str) -> Response:
        ident = _path_id(partner_id, "取引先")
        _company_from_query(state)
        return _json({"partner": state.get_partner(ident)})

    @app.put("/api/1/partners/code/<path:code>")
    def partners_update_by_code(code: str) -> Response:
        body, form = _body(allow_form=True)
        f = _Fields(body, form=form)
        company_id = f.integer("company_id", required=True, minimum=1)
        name = f.string("name", required=True, max_length=255)
        if "id" in body:
            f.fail("id は指定できません。")
        attributes = _partner_attributes(f, available=True)
        f.raise_if_any()
        state.check_company(company_id or 0)
        partner = state.get_partner_by_code(code)
        return _json({"partner": state.update_partner(partner["id"], name, attributes)})

    @app.put("/api/1/partners/upsert_by_code")
    def partners_upsert() -> Response:
        body, form = _body(allow_form=True)
        f = _Fields(body, form=form)
        company_id = f.integer("company_id", required=True, minimum=1)
        code = f.string("code", required=True, min_length=1, max_length=255)
        given = f.obj("partner")
        if given is None and "partner" not in body:
            f.fail("partner は必須項目です。")
        attributes: dict[str, Any] = {}
        name = None
        if given is not None:
            p = f.child(given, "partner.")
            name = p.string("name", required=True, max_length=255)
            if "code" in given:
                p.fail("partner.code は指定できません（URL ではなく code で指定してください）。")
            attributes = _partner_attributes(p, available=True)
        f.raise_if_any()
        state.check_company(company_id or 0)
        partner, created = state.upsert_partner_by_code(code or "", name or "", attributes)
        return _json({"partner": partner}, 201 if created else 200)

    # ---------------------------------------------------------------------------------- companies

    @app.get("/api/1/companies/<company_id>")
    def companies_show(company_id: str) -> Response:
        state.check_company(_path_id(company_id, "事業所"))
        return _json({"company": _company_detail(state.company_id, state.use_partner_codes)})

    @app.get("/api/1/companies")
    def companies() -> Response:
        return _json(
            {
                "companies": [
                    {
                        "id": state.company_id,
                        "name": _COMPANY["name"],
                        "name_kana": "サンドボックスカブシキガイシャ",
                        "display_name": _COMPANY["name"],
                        "company_number": f"{state.company_id:010d}",
                        "role": "admin",
                    }
                ]
            }
        )

    # ---------------------------------------------------------------------------------- invoices

    @app.get("/iv/invoices")
    def invoices_index() -> Response:
        q = _Query()
        company_id = q.integer("company_id", required=True, minimum=1)
        limit = q.integer("limit", minimum=1, maximum=100) or 20
        offset = q.integer("offset", minimum=0, maximum=2147483647) or 0
        filters: dict[str, Any] = {
            "invoice_number": q.string("invoice_number", min_length=1, max_length=255),
            "subject": q.string("subject", min_length=1, max_length=255),
            "payment_status": q.string(
                "payment_status", enum=("settled", "unsettled", "canceled", "unprocessed", "failed")
            ),
            "deal_status": q.string("deal_status", enum=("registered", "unregistered")),
            "sending_status": q.string("sending_status", enum=("sent", "unsent")),
            "cancel_status": q.string("cancel_status", enum=("canceled", "uncanceled")),
        }
        for name in ("start_billing_date", "end_billing_date", "start_payment_date", "end_payment_date"):
            filters[name] = q.date(name)
        raw_ids = q.string("partner_ids", max_length=255)
        if raw_ids is not None:
            if not re.fullmatch(r"[0-9]+(,[0-9]+){0,2}", raw_ids):
                q.fail(
                    "partner_ids には取引先IDを半角カンマ区切り（スペースなし）で最大3件まで指定してください。"
                )
            else:
                filters["partner_ids"] = {int(x) for x in raw_ids.split(",")}
        q.boolean("sales_management_origin")
        if offset + limit > MAX_INVOICE_WINDOW:
            q.fail(f"offset と limit の合計は {MAX_INVOICE_WINDOW} 以下で指定してください。")
        q.raise_if_any()
        state.check_company(company_id or 0)
        found = state.list_invoices(filters, offset, limit)
        return _json({"invoices": [_invoice_view(r, "index") for r in found]})

    @app.post("/iv/invoices")
    def invoices_create() -> Response:
        body, _ = _body()
        record = state.create_invoice(_parse_invoice_request(body))
        return _json({"invoice": _invoice_view(record, "create")}, 201)

    @app.get("/iv/invoices/templates")
    def invoices_templates() -> Response:
        _company_from_query(state)
        return _json({"templates": [dict(t) for t in _TEMPLATES]})

    @app.get("/iv/invoices/<invoice_id>")
    def invoices_show(invoice_id: str) -> Response:
        ident = _path_id(invoice_id, "請求書")
        _company_from_query(state)
        return _json({"invoice": _invoice_view(state.get_invoice(ident), "show")})

    @app.put("/iv/invoices/<invoice_id>/cancel")
    def invoices_cancel(invoice_id: str) -> Response:
        return _cancel_status(invoice_id, state.cancel_invoice)

    @app.put("/iv/invoices/<invoice_id>/uncancel")
    def invoices_uncancel(invoice_id: str) -> Response:
        return _cancel_status(invoice_id, state.uncancel_invoice)

    def _cancel_status(invoice_id: str, action: Any) -> Response:
        ident = _path_id(invoice_id, "請求書")
        body, _ = _body()
        f = _Fields(body)
        company_id = f.integer("company_id", required=True, minimum=1)
        f.raise_if_any()
        state.check_company(company_id or 0)
        record = action(ident)
        return _json({"invoice": {"id": record["id"], "cancel_status": record["cancel_status"]}})

    # ------------------------------------------------------------------------------------- deals

    @app.get("/api/1/deals")
    def deals_index() -> Response:
        q = _Query()
        company_id = q.integer("company_id", required=True, minimum=1)
        offset, limit = q.page(max_limit=100, default_limit=20)
        filters: dict[str, Any] = {
            "partner_id": q.integer("partner_id", minimum=1),
            "partner_code": q.string("partner_code"),
            "status": q.string("status", enum=("unsettled", "settled")),
            "type": q.string("type", enum=("income", "expense")),
        }
        q.integer("account_item_id", minimum=1)
        q.string("accruals", enum=("without", "with"))
        for name in ("start_issue_date", "end_issue_date", "start_due_date", "end_due_date"):
            filters[name] = q.date(name)
        if filters["partner_id"] is not None and filters["partner_code"] is not None:
            q.fail("partner_id と partner_code は同時に指定できません。")
        if filters["partner_code"] is not None and not state.use_partner_codes:
            q.fail("取引先コードの利用が無効な事業所では partner_code を指定できません。")
        q.raise_if_any()
        state.check_company(company_id or 0)
        found, total = state.list_deals(filters, offset, limit)
        return _json({"deals": found, "meta": {"total_count": total}})

    @app.get("/api/1/deals/<deal_id>")
    def deals_show(deal_id: str) -> Response:
        ident = _path_id(deal_id, "取引")
        _company_from_query(state)
        return _json({"deal": state.get_deal(ident)})


def install_admin_routes(app: Flask, sandbox: FreeeSandbox) -> None:
    """The shared ``/_sandbox`` API (:func:`sandbox.admin.install_admin`) and freee's own: codes, tokens, payments."""

    def admin_seed() -> Response:
        body, _ = _body(allow_empty=True)
        partners = body.get("partners", [])
        if not isinstance(partners, list) or not all(isinstance(p, Mapping) for p in partners):
            raise _invalid("partners はオブジェクトの配列で指定してください。")
        return _json({"partners": sandbox.seed(partners)}, 201)

    def admin_state() -> Response:
        return _json(sandbox.snapshot())

    install_admin(app, sandbox, seed=admin_seed, state=admin_state)

    @app.post(f"{ADMIN_PREFIX}/oauth/codes")
    def admin_code() -> Response:
        body, _ = _body(allow_empty=True)
        redirect_uri = body.get("redirect_uri")
        if redirect_uri is not None and not isinstance(redirect_uri, str):
            raise _invalid("redirect_uri は文字列で指定してください。")
        return _json({"code": sandbox.issue_code(redirect_uri), "expires_in": int(AUTH_CODE_TTL)}, 201)

    @app.post(f"{ADMIN_PREFIX}/tokens")
    def admin_tokens() -> Response:
        return _json(sandbox.issue_tokens(), 201)

    @app.post(f"{ADMIN_PREFIX}/tokens/expire")
    def admin_expire() -> Response:
        body, _ = _body(allow_empty=True)
        expired = sandbox.expire_access_tokens(refresh_tokens=bool(body.get("refresh_tokens", False)))
        return _json({"expired_access_tokens": expired})

    @app.post(f"{ADMIN_PREFIX}/invoices/<invoice_id>/payments")
    def admin_pay(invoice_id: str) -> Response:
        ident = _path_id(invoice_id, "請求書")
        body, _ = _body()
        f = _Fields(body)
        amount = f.integer("amount", required=True, minimum=1)
        on = f.date("date")
        f.raise_if_any()
        deal = sandbox.pay(ident, amount or 0, on)
        return _json({"deal": deal, "invoice": sandbox.invoice(ident)}, 201)

    @app.post(f"{ADMIN_PREFIX}/invoices/<invoice_id>/register")
    def admin_register(invoice_id: str) -> Response:
        ident = _path_id(invoice_id, "請求書")
        deal = sandbox.register_deal(ident)
        return _json({"deal": deal, "invoice": sandbox.invoice(ident)})
