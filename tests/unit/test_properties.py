"""The HubSpot properties this package owns (``sdk.properties``): every settings name defined once, with the type
and dropdown options the billing schedule (issue 17) reads and writes, labelled and described in Japanese and
English."""

from __future__ import annotations

from typing import Any

import pytest

from sdk.properties import property_definitions
from sdk.settings import PropertyNames

NAMES = PropertyNames()
DEFINITIONS = property_definitions(NAMES)
BY_NAME = {d["name"]: (object_type, d) for object_type, ds in DEFINITIONS.items() for d in ds}


def definition(name: str) -> dict[str, Any]:
    return BY_NAME[name][1]


def test_every_property_name_in_the_settings_is_defined_once_on_its_object() -> None:
    prefixes = {"deal_": "deals", "company_": "companies", "line_item_": "line_items"}
    fields = [f for f in PropertyNames.model_fields if f != "group"]
    assert len(BY_NAME) == sum(len(ds) for ds in DEFINITIONS.values()) == len(fields)
    for field in fields:
        object_type, found = BY_NAME[getattr(NAMES, field)]
        assert object_type == next(o for p, o in prefixes.items() if field.startswith(p)), field
        assert found["groupName"] == NAMES.group


@pytest.mark.parametrize(
    ("field", "kind", "field_type"),
    [
        ("deal_billing_plan", "number", "number"),
        ("deal_next_billing_date", "date", "date"),
        ("deal_invoice_count", "number", "number"),
        ("deal_billing_status", "enumeration", "select"),
        ("company_billing_mode", "enumeration", "select"),
        ("company_closing_day", "enumeration", "select"),
    ],
)
def test_the_billing_schedule_properties_have_their_types(field: str, kind: str, field_type: str) -> None:
    found = definition(getattr(NAMES, field))
    assert (found["type"], found["fieldType"]) == (kind, field_type)


def test_the_default_names_are_the_documented_ones() -> None:
    assert (
        NAMES.deal_billing_plan,
        NAMES.deal_next_billing_date,
        NAMES.deal_invoice_count,
        NAMES.deal_billing_status,
        NAMES.company_billing_mode,
        NAMES.company_closing_day,
    ) == (
        "freee_billing_plan",
        "freee_next_billing_date",
        "freee_invoice_count",
        "freee_billing_status",
        "freee_billing_mode",
        "freee_closing_day",
    )


def options(field: str) -> list[tuple[str, str]]:
    return [(o["value"], o["label"]) for o in definition(getattr(NAMES, field))["options"]]


def test_billing_status_options() -> None:
    assert options("deal_billing_status") == [
        ("one_off", "単発 / one-off"),
        ("scheduled", "定期請求中 / scheduled"),
        ("ended", "請求完了 / ended"),
        ("stopped", "停止 / stopped"),
    ]


def test_billing_mode_options_per_deal_first() -> None:
    assert [value for value, _ in options("company_billing_mode")] == ["per_deal", "consolidated"]
    assert [label.split(" / ")[0] for _, label in options("company_billing_mode")] == [
        "取引ごと",
        "月締め合算",
    ]


def test_closing_day_options_month_end_then_the_fifths() -> None:
    found = options("company_closing_day")
    assert [value for value, _ in found] == ["month_end", "5", "10", "15", "20", "25"]
    assert [label.split(" / ")[0] for _, label in found] == [
        "末日",
        "5日締め",
        "10日締め",
        "15日締め",
        "20日締め",
        "25日締め",
    ]


def test_dropdown_options_are_ordered_and_unique() -> None:
    for object_type, ds in DEFINITIONS.items():
        for found in ds:
            values = [o["value"] for o in found.get("options", [])]
            assert len(values) == len(set(values)), (object_type, found["name"])
            assert [o["displayOrder"] for o in found.get("options", [])] == list(range(len(values)))


@pytest.mark.parametrize(
    "field",
    [
        "deal_billing_plan",
        "deal_next_billing_date",
        "deal_invoice_count",
        "deal_billing_status",
        "deal_amount_invoiced",
        "company_billing_mode",
        "company_closing_day",
    ],
)
def test_labels_and_descriptions_are_japanese_then_english(field: str) -> None:
    found = definition(getattr(NAMES, field))
    for text in (found["label"], found["description"]):
        ja, en = text.split(" / ", 1)
        assert not ja.isascii() and en.isascii() and en.strip(), text


def test_amount_invoiced_is_described_as_invoiced_to_date() -> None:
    description = definition(NAMES.deal_amount_invoiced)["description"]
    assert "これまでに発行した" in description and "invoiced to date" in description


def test_renamed_properties_are_defined_under_their_new_names() -> None:
    names = PropertyNames(deal_billing_plan="x_instalments", company_closing_day="x_closing")
    defined = {d["name"] for ds in property_definitions(names).values() for d in ds}
    assert {"x_instalments", "x_closing"} <= defined
    assert not {"freee_billing_plan", "freee_closing_day"} & defined
