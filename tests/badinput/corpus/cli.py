"""Hostile inputs at ``hubspot-freee``: the operator's command line."""

from __future__ import annotations

from tests.badinput.corpus.model import CL, HOSTILE_DEAL, OTHER_PORTAL, Case, Cli, DealSpec, deal_file, item

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------------------------- CLI
    Case(
        "cli-preview-missing-file",
        CL,
        Cli(("preview", "--file", "{file}.missing")),
        exit_code=2,
        message="no such file",
    ),
    Case(
        "cli-preview-not-json",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"dealname,amount\nA,1\n"),
        exit_code=2,
        message="not valid JSON at line 1",
    ),
    Case(
        "cli-preview-binary",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"\x89PNG\r\n\x1a\n\xff\x00"),
        exit_code=2,
        message="cannot be read as UTF-8",
    ),
    Case(
        "cli-preview-wrong-shape",
        CL,
        Cli(("preview", "--file", "{file}"), file=b'{"deals": 3}'),
        exit_code=2,
        message="not a list of deals",
    ),
    Case(
        "cli-preview-deeply-nested",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"[" * 100_000),
        exit_code=2,
        message="nested",
    ),
    Case(
        "cli-preview-50mb-file",
        CL,
        Cli(("preview", "--file", "{file}"), file=b"[" + b" " * 50_000_000 + b"]"),
        exit_code=2,
        message="too large",
    ),
    Case(
        "cli-preview-dev-zero", CL, Cli(("preview", "--file", "/dev/zero")), exit_code=2, message="too large"
    ),
    Case("cli-preview-directory", CL, Cli(("preview", "--file", ".")), exit_code=2, message="cannot be read"),
    Case(
        "cli-preview-lone-surrogate",
        CL,
        Cli(
            ("preview", "--file", "{file}"),
            file=deal_file(deal={"dealname": "x"}).replace(b'"x"', b'"a\\ud800b"'),
        ),
        exit_code=2,
        message="surrogate",
    ),
    Case(
        "cli-preview-bad-today",
        CL,
        Cli(("preview", "--file", "{file}", "--today", "2026-02-30"), file=deal_file()),
        exit_code=2,
        message="--today '2026-02-30' is not a date",
    ),
    Case(
        "cli-preview-strict-nan-quantity",
        CL,
        Cli(
            ("preview", "--file", "{file}", "--strict", "--json"),
            file=deal_file(items=[item(quantity="NaN")]),
        ),
        exit_code=1,
        message="line_item.quantity_invalid",
    ),
    Case(
        "cli-preview-strict-unknown-tax-rate",
        CL,
        Cli(("preview", "--file", "{file}", "--strict"), file=deal_file(items=[item(freee_tax_rate="8")])),
        exit_code=1,
        message="line_item.tax_rate_unknown",
    ),
    Case(
        "cli-preview-strict-feb-30",
        CL,
        Cli(("preview", "--file", "{file}", "--strict"), file=deal_file(deal={"closedate": "2026-02-30"})),
        exit_code=1,
        message="deal.close_date_invalid",
    ),
    Case(
        "cli-preview-strict-hex-price",
        CL,
        Cli(
            ("preview", "--file", "{file}", "--strict", "--json"), file=deal_file(items=[item(price="0x10")])
        ),
        exit_code=1,
        message="line_item.price_invalid",
    ),
    Case(
        "cli-invoice-create-deal-not-digits",
        CL,
        Cli(("invoice", "create", "--deal", "1;rm -rf /")),
        exit_code=2,
        message="is not a HubSpot deal id",
    ),
    Case(
        "cli-invoice-create-deal-not-found",
        CL,
        Cli(("invoice", "create", "--deal", "987654321987")),
        exit_code=2,
        message="not found in HubSpot",
    ),
    Case(
        "cli-invoice-create-portal-not-int",
        CL,
        Cli(("invoice", "create", "--deal", "1", "--portal", "1e3")),
        exit_code=2,
        message="Invalid value for '--portal'",
    ),
    Case(
        "cli-invoice-create-foreign-portal",
        CL,
        Cli(("invoice", "create", "--deal", "{deal}", "--portal", str(OTHER_PORTAL)), deal=DealSpec()),
        exit_code=2,
        message="is not this installation's portal",
    ),
    Case(
        "cli-invoice-show-foreign-portal",
        CL,
        Cli(("invoice", "show", "--deal", "1", "--portal", str(OTHER_PORTAL))),
        exit_code=2,
        message="is not this installation's portal",
    ),
    Case(
        "cli-invoice-create-hostile-deal",
        CL,
        Cli(("invoice", "create", "--deal", "{deal}", "--json"), deal=HOSTILE_DEAL),
        exit_code=1,
        message="text.control_characters",
    ),
    Case(
        "cli-invoice-show-sql",
        CL,
        Cli(("invoice", "show", "--deal", "1' OR '1'='1")),
        exit_code=2,
        message="is not a HubSpot deal id",
    ),
    Case(
        "cli-sync-since-bad-date",
        CL,
        Cli(("sync", "payments", "--since", "2026-13-01")),
        exit_code=2,
        message="--since must be a date",
    ),
    Case(
        "cli-sync-since-epoch",
        CL,
        Cli(("sync", "payments", "--since", "1795600000000")),
        exit_code=2,
        message="--since must be a date",
    ),
    Case(
        "cli-dlq-redrive-nothing-said",
        CL,
        Cli(
            (
                "dlq",
                "redrive",
            )
        ),
        exit_code=2,
        message="--id ID",
    ),
    Case(
        "cli-dlq-redrive-unknown-id",
        CL,
        Cli(("dlq", "redrive", "--id", "'; DROP TABLE messages;--")),
        exit_code=1,
        message="not in the dead-letter queue",
    ),
    Case(
        "cli-actions-register-broken-definition",
        CL,
        Cli(
            (
                "actions",
                "register",
                "--app-id",
                "4242",
                "--base-url",
                "https://x.example",
                "--definitions",
                "{file}.dir",
            ),
            file=b"{not json",
        ),
        exit_code=2,
        message="create-invoice.json",
    ),
)
