"""hubspot-freee: create the freee invoice of the enrolled deal (HubSpot workflow "Custom code" action).

Paste this whole file into a custom-code action of a deal-based workflow (language: Python 3.9).

Secrets (the action's "Secrets" list):
  HUBSPOT_FREEE_SECRET  the shared secret; the server has the same value as CUSTOM_CODE_SECRET (required)
  HUBSPOT_FREEE_URL     the server's public base URL, e.g. https://invoices.example.jp (or an input field
                        named hubspot_freee_url)

Outputs to declare in the action (all strings; branch on "result"):
  freee_invoice_id, freee_invoice_number, freee_invoice_url, error_message,
  warning_message (what to check on an invoice that can be made, e.g. the deal amount differs from its line items),
  result: created | already_invoiced | invalid | failed | pending | scheduled

It signs {"portalId", "dealId"} with HMAC-SHA256 over "<timestamp ms>.<body>" and POSTs it to
<base>/custom-code/create-invoice. It gives up after 3 s to connect and 15 s to read (inside HubSpot's 20 s),
never retries, and answers result=failed with an error_message when the server cannot be reached, refuses the
signature or fails: the workflow can branch on it instead of the action erroring.
"""

import hashlib
import hmac
import json
import os
import time

import requests

ENDPOINT_PATH = "/custom-code/create-invoice"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
OUTPUT_FIELDS = (
    "freee_invoice_id",
    "freee_invoice_number",
    "freee_invoice_url",
    "result",
    "error_message",
    "warning_message",
)
TIMEOUT_MESSAGE = (
    "hubspot-freee did not answer in time; the invoice may still be created: run the action again later / 応答がありませんでした。後で再実行してください"
)


# >>> begin shared block: byte-identical in every snippet here (tests/workflows/test_snippet_blocks.py) >>>
def main(event):
    started = time.time()
    outputs = call_endpoint(event)
    print(
        "hubspot-freee: deal %s -> %s in %.1f s"
        % (_deal_id(event), outputs.get("result"), time.time() - started)
    )
    return {"outputFields": outputs}


def call_endpoint(event):
    secret = os.getenv("HUBSPOT_FREEE_SECRET") or ""
    base_url = (
        (_input(event, "hubspot_freee_url") or os.getenv("HUBSPOT_FREEE_URL") or "").strip().rstrip("/")
    )
    portal_id = _portal_id(event)
    deal_id = _deal_id(event)
    object_type = str((event.get("object") or {}).get("objectType") or "DEAL").upper()
    if object_type not in ("DEAL", "0-3"):
        return _failed(
            "use this action in a deal-based workflow (got %s) / 取引ベースのワークフローで使ってください"
            % object_type
        )
    if not secret:
        return _failed(
            "the secret HUBSPOT_FREEE_SECRET is not set on this action / シークレット HUBSPOT_FREEE_SECRET を設定してください"
        )
    if not base_url.startswith(("https://", "http://")):
        return _failed(
            "the secret HUBSPOT_FREEE_URL (https://...) is not set / シークレット HUBSPOT_FREEE_URL を設定してください"
        )
    if portal_id is None or not deal_id.isdigit():
        return _failed("the event has no portal id or deal id / ポータルIDまたは取引IDがありません")
    body = json.dumps({"portalId": portal_id, "dealId": deal_id}, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time() * 1000))
    signature = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Freee-Timestamp": timestamp,
        "X-HubSpot-Freee-Signature": signature,
    }
    try:
        response = requests.post(
            base_url + ENDPOINT_PATH, data=body, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
    except requests.Timeout:
        return _failed(TIMEOUT_MESSAGE)
    except requests.RequestException as exc:
        return _failed(
            "hubspot-freee could not be reached (%s) / サーバーに接続できませんでした" % type(exc).__name__
        )
    return _outputs(response)


def _outputs(response):
    try:
        data = response.json()
    except ValueError:
        data = None
    fields = data.get("outputFields") if isinstance(data, dict) else None
    if response.status_code == 200 and isinstance(fields, dict):
        outputs = dict.fromkeys(OUTPUT_FIELDS, "")
        for name, value in fields.items():
            if value is not None:
                outputs[name] = value
        return outputs
    said = _message(data, response.text)
    if response.status_code == 401:
        return _failed(
            "hubspot-freee refused the signature: %s; check HUBSPOT_FREEE_SECRET / 署名が拒否されました"
            % said
        )
    if response.status_code in (429, 503):
        return _failed(
            "hubspot-freee is busy (%d): %s; run the action again later / 混雑しています"
            % (response.status_code, said)
        )
    return _failed("hubspot-freee answered %d: %s" % (response.status_code, said))


def _message(data, text):
    if isinstance(data, dict):
        for key in ("error_message", "message", "error"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)[:500]
    return (text or "no message").strip()[:500]


def _failed(message):
    outputs = dict.fromkeys(OUTPUT_FIELDS, "")
    outputs["result"] = "failed"
    outputs["error_message"] = message
    return outputs


def _input(event, name):
    value = (event.get("inputFields") or {}).get(name)
    return None if value is None else str(value)


def _portal_id(event):
    raw = (
        (event.get("origin") or {}).get("portalId") or _input(event, "portalId") or _input(event, "portal_id")
    )
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _deal_id(event):
    raw = (
        (event.get("object") or {}).get("objectId")
        or _input(event, "hs_object_id")
        or _input(event, "dealId")
    )
    return "" if raw is None else str(raw).strip()


# <<< end shared block <<<
