"""The API routes (CRM objects, associations, pipelines, properties, account, workflow actions, the app's
webhook settings and subscriptions) and the HubSpot-only admin routes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from sandbox.admin import ADMIN_PREFIX, install_admin
from sandbox.hubspot.errors import HubSpotApiError, _json_response, _missing, _not_found, _unbuildable
from sandbox.hubspot.facts import (
    _ASSOCIATION_TYPES,
    _CALLBACK_REQUIRED,
    _DEFAULTS,
    _OBJECT_NAME,
    _PRIMARY_TYPES,
    MAX_BATCH_INPUTS,
    MAX_PAGE_LIMIT,
    _iso,
    normalize_type,
)
from sandbox.hubspot.state import CallbackCompletion

if TYPE_CHECKING:
    from sandbox.hubspot.app import HubSpotSandbox


def _list_param(name: str) -> list[str] | None:
    """``?properties=a,b`` and ``?properties=a&properties=b`` (the official client sends the second)."""
    if name not in request.args:
        return None
    return [p.strip() for raw in request.args.getlist(name) for p in raw.split(",") if p.strip()]


def _flag(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise HubSpotApiError(
            400, "Invalid input JSON on line 1, column 1: expected an object", "VALIDATION_ERROR"
        )
    return data


def _inputs(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotApiError(400, "Invalid input JSON: inputs is required", "VALIDATION_ERROR")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise HubSpotApiError(
            400,
            f"Batch input exceeds the maximum of {MAX_BATCH_INPUTS} inputs (got {len(inputs)}). "
            "Split the request into smaller batches.",
            "VALIDATION_ERROR",
            context={"maxInputs": [str(MAX_BATCH_INPUTS)], "inputs": [str(len(inputs))]},
        )
    return [i if isinstance(i, dict) else {"id": i} for i in inputs]


def install_api_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """Every HubSpot endpoint the sandbox answers."""
    state = sandbox.state

    def batch_answer(
        results: list[dict[str, Any]], errors: list[dict[str, Any]], status: int = 200
    ) -> Response:
        now = _iso(sandbox.clock.now())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return _json_response(body, 207)
        return _json_response(body, status)

    def not_found_error(object_type: str, ids: list[str]) -> dict[str, Any]:
        return {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {_OBJECT_NAME[object_type]} objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": ids},
            "links": {},
            "errors": [],
        }

    # -- CRM objects v3 ----------------------------------------------------------------------------------------

    @app.get("/crm/v3/objects/<object_type>/<object_id>")
    def get_object(object_type: str, object_id: str) -> Response:
        object_type = normalize_type(object_type)
        with state.lock:
            id_property = request.args.get("idProperty")
            if id_property:
                obj = state.find(object_type, id_property, object_id)
                if obj is None:
                    raise _not_found(object_type, object_id)
            else:
                obj = state.get(object_type, object_id, archived=_flag("archived"))
            return _json_response(
                state.object_json(
                    object_type, obj, _list_param("properties"), _list_param("associations") or ()
                )
            )

    @app.patch("/crm/v3/objects/<object_type>/<object_id>")
    def update_object(object_type: str, object_id: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        with state.lock:
            obj = state.update(
                object_type, object_id, body.get("properties") or {}, source_id=str(state.app_id)
            )
            asked = list(_DEFAULTS[object_type]) + list((body.get("properties") or {}).keys())
            return _json_response(state.object_json(object_type, obj, asked))

    @app.delete("/crm/v3/objects/<object_type>/<object_id>")
    def archive_object(object_type: str, object_id: str) -> Response:
        state.archive(normalize_type(object_type), object_id)
        return Response(status=204)

    @app.post("/crm/v3/objects/<object_type>")
    def create_object(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        with state.lock:
            obj = state.create(object_type, body.get("properties") or {})
            for association in body.get("associations") or []:
                to_id = str((association.get("to") or {}).get("id", ""))
                for spec in association.get("types") or []:
                    to_type = _type_for_association(object_type, int(spec.get("associationTypeId", 0)))
                    state.associate(object_type, obj.id, to_type, to_id, int(spec["associationTypeId"]))
            asked = list(_DEFAULTS[object_type]) + list((body.get("properties") or {}).keys())
            return _json_response(state.object_json(object_type, obj, asked), 201)

    @app.get("/crm/v3/objects/<object_type>")
    def list_objects(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        limit = min(int(request.args.get("limit", 10)), MAX_PAGE_LIMIT)
        after = int(request.args.get("after", 0) or 0)
        archived = _flag("archived")
        with state.lock:
            chosen = sorted(
                (o for o in state.objects[object_type].values() if o.archived == archived),
                key=lambda o: int(o.id),
            )
            page = chosen[after : after + limit]
            body: dict[str, Any] = {
                "results": [
                    state.object_json(
                        object_type, o, _list_param("properties"), _list_param("associations") or ()
                    )
                    for o in page
                ]
            }
            if after + limit < len(chosen):
                link = f"{request.base_url}?after={after + limit}&limit={limit}"
                body["paging"] = {"next": {"after": str(after + limit), "link": link}}
            return _json_response(body)

    @app.post("/crm/v3/objects/<object_type>/batch/read")
    def batch_read(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        inputs = _inputs(body)
        properties = body.get("properties")
        with state.lock:
            results, missing = [], []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = state.find(object_type, body.get("idProperty"), key)
                if obj is None:
                    missing.append(key)
                else:
                    results.append(state.object_json(object_type, obj, properties if properties else None))
            return batch_answer(results, [not_found_error(object_type, missing)] if missing else [])

    @app.post("/crm/v3/objects/<object_type>/batch/update")
    def batch_update(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        inputs = _inputs(body)
        with state.lock:
            missing = state.missing_ids(object_type, inputs)
            if missing and sandbox.batch_update_missing == "refuse":  # the whole batch, nothing written
                raise HubSpotApiError(
                    404,
                    not_found_error(object_type, missing)["message"],
                    "OBJECT_NOT_FOUND",
                    context={"ids": missing},
                )
            updated, missing = state.batch_update(object_type, inputs)
            written = {str(i.get("id")): list((i.get("properties") or {}).keys()) for i in inputs}
            results = [
                state.object_json(object_type, o, list(_DEFAULTS[object_type]) + written.get(o.id, []))
                for o in updated
            ]
            return batch_answer(results, [not_found_error(object_type, missing)] if missing else [])

    @app.post("/crm/v3/objects/<object_type>/batch/create")
    def batch_create(object_type: str) -> Response:
        object_type = normalize_type(object_type)
        body = _body()
        inputs = _inputs(body)
        with state.lock:
            for item in inputs:  # validate every input before creating any
                state.check_values(object_type, item.get("properties") or {})
            created = [state.create(object_type, item.get("properties") or {}) for item in inputs]
            results = [
                state.object_json(
                    object_type, o, list(_DEFAULTS[object_type]) + list(i.get("properties") or {})
                )
                for o, i in zip(created, inputs, strict=True)
            ]
            return batch_answer(results, [], 201)

    @app.post("/crm/v3/objects/<object_type>/search")
    def search(object_type: str) -> Response:
        return _json_response(state.search(normalize_type(object_type), _body()))

    # -- associations v4 ---------------------------------------------------------------------------------------

    def labelled(types: Iterable[int]) -> list[dict[str, Any]]:
        return [
            {
                "category": "HUBSPOT_DEFINED",
                "typeId": type_id,
                "label": "Primary" if type_id in _PRIMARY_TYPES else None,
            }
            for type_id in types
        ]

    @app.get("/crm/v4/objects/<from_type>/<object_id>/associations/<to_type>")
    def associations_page(from_type: str, object_id: str, to_type: str) -> Response:
        from_type, to_type = normalize_type(from_type), normalize_type(to_type)
        limit = min(int(request.args.get("limit", 500)), 500)
        after = int(request.args.get("after", 0) or 0)
        with state.lock:
            state.get(from_type, object_id)
            found = state.associated(from_type, object_id, to_type)
            page = found[after : after + limit]
            body: dict[str, Any] = {
                "results": [{"toObjectId": int(i), "associationTypes": labelled(t)} for i, t in page]
            }
            if after + limit < len(found):
                body["paging"] = {"next": {"after": str(after + limit)}}
            return _json_response(body)

    @app.post("/crm/v4/associations/<from_type>/<to_type>/batch/read")
    def associations_batch(from_type: str, to_type: str) -> Response:
        from_type, to_type = normalize_type(from_type), normalize_type(to_type)
        inputs = _inputs(_body())
        with state.lock:
            results, errors = [], []
            for item in inputs:
                key = str(item.get("id", ""))
                obj = state.objects[from_type].get(key)
                found = state.associated(from_type, key, to_type) if obj is not None else []
                if not found:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                            "message": f"No {to_type} is associated with {_OBJECT_NAME[from_type].lower()} {key}.",
                            "context": {"fromObjectId": [key]},
                            "links": {},
                            "errors": [],
                        }
                    )
                    continue
                results.append(
                    {
                        "from": {"id": key},
                        "to": [{"toObjectId": int(i), "associationTypes": labelled(t)} for i, t in found],
                    }
                )
            return batch_answer(results, errors)

    @app.put("/crm/v4/objects/<from_type>/<from_id>/associations/default/<to_type>/<to_id>")
    def associate_default(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
        written = state.associate(from_type, from_id, to_type, to_id)
        results = [
            {
                "from": {"id": a},
                "to": {"id": b},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
            }
            for _, a, _, b, type_id in written
        ]
        return batch_answer(results, [])

    # -- pipelines ---------------------------------------------------------------------------------------------

    def pipelines_of(object_type: str) -> list[dict[str, Any]]:
        object_type = normalize_type(object_type)
        if object_type not in state.pipelines:
            raise _missing(f"No pipelines for {object_type}")
        return state.pipelines[object_type]

    @app.get("/crm/v3/pipelines/<object_type>")
    def pipelines(object_type: str) -> Response:
        with state.lock:
            return _json_response({"results": [p for p in pipelines_of(object_type) if not p["archived"]]})

    @app.get("/crm/v3/pipelines/<object_type>/<pipeline_id>")
    def pipeline(object_type: str, pipeline_id: str) -> Response:
        with state.lock:
            found = next((p for p in pipelines_of(object_type) if p["id"] == pipeline_id), None)
            if found is None:
                raise _missing(f"Unable to find pipeline {pipeline_id}", id=pipeline_id)
            return _json_response(found)

    # -- properties --------------------------------------------------------------------------------------------

    @app.get("/crm/v3/properties/<object_type>")
    def properties(object_type: str) -> Response:
        with state.lock:
            return _json_response({"results": list(state.properties[normalize_type(object_type)].values())})

    @app.post("/crm/v3/properties/<object_type>")
    def create_property(object_type: str) -> Response:
        return _json_response(state.define_property(object_type, _body()), 201)

    @app.patch("/crm/v3/properties/<object_type>/<name>")
    def update_property(object_type: str, name: str) -> Response:
        return _json_response(state.update_property(object_type, name, _body()))

    @app.get("/crm/v3/properties/<object_type>/groups")
    def groups(object_type: str) -> Response:
        with state.lock:
            return _json_response({"results": list(state.groups[normalize_type(object_type)].values())})

    @app.post("/crm/v3/properties/<object_type>/groups")
    def create_group(object_type: str) -> Response:
        return _json_response(state.define_group(object_type, _body()), 201)

    @app.get("/crm/v3/properties/<object_type>/groups/<name>")
    def group(object_type: str, name: str) -> Response:
        with state.lock:
            found = state.groups[normalize_type(object_type)].get(name)
            if found is None:
                raise _missing(f"Unable to find property group {name}")
            return _json_response(found)

    @app.get("/crm/v3/properties/<object_type>/<name>")
    def property_(object_type: str, name: str) -> Response:
        with state.lock:
            found = state.properties[normalize_type(object_type)].get(name)
            if found is None:
                raise _missing(f"Unable to find property {name}", name=name)
            return _json_response(found)

    # -- account information -----------------------------------------------------------------------------------

    @app.get("/account-info/v3/details")
    @app.get("/account-info/2026-03/details")
    def account_details() -> Response:
        # https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-account-details
        return _json_response(
            {
                "portalId": state.portal_id,
                "timeZone": "Asia/Tokyo",
                "companyCurrency": "JPY",
                "additionalCurrencies": [],
                "utcOffset": "+09:00",
                "utcOffsetMilliseconds": 9 * 3_600_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
                "accountType": "STANDARD",
            }
        )

    # -- workflow action callbacks -----------------------------------------------------------------------------

    def completion(body: Mapping[str, Any], schema: str, required: tuple[str, ...]) -> CallbackCompletion:
        """One completion; a required field missing is a 400, as HubSpot's v4 reference has it (the
        ``typedOutputs`` too, which ``hubspot-api-client`` 12 cannot send)."""
        absent = [name for name in required if body.get(name) is None]
        if absent:
            raise _unbuildable(schema, absent)
        output, typed = body["outputFields"], body["typedOutputs"]
        if "callbackId" in required and (not isinstance(body["callbackId"], str) or not body["callbackId"]):
            raise HubSpotApiError(400, "Invalid input JSON: callbackId must be a string", "VALIDATION_ERROR")
        if not isinstance(output, dict) or any(not isinstance(v, str) for v in output.values()):
            raise HubSpotApiError(
                400, "Invalid input JSON: outputFields must be an object of strings", "VALIDATION_ERROR"
            )
        if not isinstance(typed, dict):
            raise HubSpotApiError(
                400, "Invalid input JSON: typedOutputs must be an object", "VALIDATION_ERROR"
            )
        return CallbackCompletion(
            str(body.get("callbackId", "")), dict(output), dict(typed), _iso(sandbox.clock.now())
        )

    @app.post("/automation/v4/actions/callbacks/<callback_id>/complete")
    def complete_callback(callback_id: str) -> Response:
        done = completion(_body(), "CallbackCompletionRequest", _CALLBACK_REQUIRED)
        with state.lock:
            state.callbacks.append(dataclasses.replace(done, callback_id=callback_id))
        return Response(status=204)

    @app.post("/automation/v4/actions/callbacks/complete")
    def complete_callbacks() -> Response:
        done = [  # every input checked before any is recorded
            completion(item, "CallbackCompletionBatchRequest", ("callbackId", *_CALLBACK_REQUIRED))
            for item in _inputs(_body())
        ]
        with state.lock:
            state.callbacks.extend(done)
        return Response(status=204)

    # -- workflow action definitions ---------------------------------------------------------------------------

    @app.get("/automation/v4/actions/<int:app_id>")
    def action_definitions(app_id: int) -> Response:
        limit = min(max(int(request.args.get("limit", 10)), 1), MAX_PAGE_LIMIT)
        after = int(request.args.get("after", 0) or 0)
        found = state.list_action_definitions(app_id, archived=_flag("archived"))
        body: dict[str, Any] = {"results": found[after : after + limit]}
        if after + limit < len(found):
            link = f"{request.base_url}?after={after + limit}&limit={limit}"
            body["paging"] = {"next": {"after": str(after + limit), "link": link}}
        return _json_response(body)

    @app.post("/automation/v4/actions/<int:app_id>")
    def create_action_definition(app_id: int) -> Response:
        return _json_response(state.define_action(app_id, _body()), 201)

    @app.get("/automation/v4/actions/<int:app_id>/<definition_id>")
    def action_definition(app_id: int, definition_id: str) -> Response:
        return _json_response(state.action_definition(app_id, definition_id))

    @app.patch("/automation/v4/actions/<int:app_id>/<definition_id>")
    def update_action_definition(app_id: int, definition_id: str) -> Response:
        return _json_response(state.patch_action(app_id, definition_id, _body()))

    # -- the app's webhooks (settings and subscriptions) -------------------------------------------------------

    @app.get("/webhooks/v3/<int:app_id>/settings")
    def webhook_settings(app_id: int) -> Response:
        with state.lock:
            state.webhooks.check_app(app_id)
            return _json_response(state.webhooks.settings_json(sandbox.webhook_target_url))

    @app.put("/webhooks/v3/<int:app_id>/settings")
    def change_webhook_settings(app_id: int) -> Response:
        body = _body()
        with state.lock:
            state.webhooks.check_app(app_id)
            url = state.webhooks.change_settings(body, had_target=sandbox.webhook_target_url is not None)
            sandbox.set_webhook_target(url)
            return _json_response(state.webhooks.settings_json(url))

    @app.delete("/webhooks/v3/<int:app_id>/settings")
    def clear_webhook_settings(app_id: int) -> Response:
        with state.lock:
            state.webhooks.check_app(app_id)
            sandbox.set_webhook_target(None)
        return Response(status=204)

    @app.get("/webhooks/v3/<int:app_id>/subscriptions")
    def webhook_subscriptions(app_id: int) -> Response:
        with state.lock:
            state.webhooks.check_app(app_id)
            return _json_response({"results": state.webhooks.list_subscriptions()})

    @app.post("/webhooks/v3/<int:app_id>/subscriptions")
    def create_webhook_subscription(app_id: int) -> Response:
        body = _body()
        with state.lock:
            state.webhooks.check_app(app_id)
            return _json_response(state.webhooks.create_subscription(body), 201)

    @app.get("/webhooks/v3/<int:app_id>/subscriptions/<subscription_id>")
    def webhook_subscription(app_id: int, subscription_id: str) -> Response:
        with state.lock:
            state.webhooks.check_app(app_id)
            return _json_response(dict(state.webhooks.subscription(subscription_id)))

    @app.patch("/webhooks/v3/<int:app_id>/subscriptions/<subscription_id>")
    def change_webhook_subscription(app_id: int, subscription_id: str) -> Response:
        body = _body()
        with state.lock:
            state.webhooks.check_app(app_id)
            return _json_response(state.webhooks.patch_subscription(subscription_id, body))

    @app.delete("/webhooks/v3/<int:app_id>/subscriptions/<subscription_id>")
    def delete_webhook_subscription(app_id: int, subscription_id: str) -> Response:
        with state.lock:
            state.webhooks.check_app(app_id)
            state.webhooks.delete_subscription(subscription_id)
        return Response(status=204)


def install_admin_routes(app: Flask, sandbox: HubSpotSandbox) -> None:
    """The shared ``/_sandbox`` API (:func:`sandbox.admin.install_admin`) and HubSpot's own: stages, webhooks."""

    def admin_seed() -> Response:
        data = request.get_json(silent=True)
        return _json_response({"ids": sandbox.seed(data if isinstance(data, dict) and data else None)})

    def admin_state() -> Response:
        dump = sandbox.state.dump()
        dump["webhooks"] = {
            "target": sandbox.dispatcher.target if isinstance(sandbox.dispatcher.target, str) else None,
            "pending": sandbox.dispatcher.pending(),
            "deliveries": len(sandbox.deliveries),
        }
        return _json_response(dump)

    install_admin(app, sandbox, seed=admin_seed, state=admin_state)

    @app.post(f"{ADMIN_PREFIX}/oauth/install")
    def admin_install() -> Response:
        return _json_response({"refresh_token": sandbox.install_app()})

    @app.post(f"{ADMIN_PREFIX}/oauth/uninstall")
    def admin_uninstall() -> Response:
        return _json_response({"revoked": sandbox.uninstall_app()})

    @app.post(f"{ADMIN_PREFIX}/oauth/expire")
    def admin_expire() -> Response:
        return _json_response({"expired": sandbox.expire_access_tokens()})

    @app.post(f"{ADMIN_PREFIX}/deals/<deal_id>/stage")
    def admin_stage(deal_id: str) -> Response:
        stage = (request.get_json(silent=True) or {}).get("stage")
        if not stage:
            raise HubSpotApiError(400, "stage is required", "VALIDATION_ERROR")
        sandbox.move_deal_to_stage(deal_id, str(stage))
        return _json_response({"id": deal_id, "dealstage": stage})

    @app.get(f"{ADMIN_PREFIX}/webhooks")
    def admin_webhooks() -> Response:
        return _json_response(
            {
                "deliveries": [d.as_dict() for d in sandbox.deliveries],
                "pending": sandbox.dispatcher.pending(),
                "events": sandbox.events,
            }
        )

    @app.post(f"{ADMIN_PREFIX}/webhooks/config")
    def admin_webhook_config() -> Response:
        data = request.get_json(silent=True) or {}
        if "url" in data:
            sandbox.set_webhook_target(data["url"] or None)
        if "duplicate_delivery_probability" in data:
            sandbox.dispatcher.duplicate_probability = float(data["duplicate_delivery_probability"])
        if "retry_delays" in data:
            sandbox.dispatcher.retry_delays = tuple(float(d) for d in data["retry_delays"])
        return Response(status=204)


def _type_for_association(from_type: str, type_id: int) -> str:
    for (source, target), (default, primary) in _ASSOCIATION_TYPES.items():
        if source == from_type and type_id in (default, primary):
            return target
    raise HubSpotApiError(400, f"Unknown association type {type_id} from {from_type}", "VALIDATION_ERROR")
