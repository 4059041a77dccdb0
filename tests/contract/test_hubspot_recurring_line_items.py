"""The HubSpot sandbox's recurring-billing line-item properties against ``specs/hubspot/recurring-line-items.md``,
through the official ``hubspot-api-client`` (its models' own checks on): the values HubSpot documents are taken
and read back as HubSpot keeps them, the number of payments is HubSpot's calculation, and each malformed value
gets HubSpot's 400 ``VALIDATION_ERROR`` body naming the property and the problem."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.line_items import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputForCreate,
    SimplePublicObject,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import ModelProperty

from sandbox.hubspot import HubSpotSandbox, create_hubspot_sandbox
from sandbox.transport import serve
from sdk.clock import FakeClock
from sdk.hubspot import LINE_ITEM_PROPERTIES

TOKEN = "recurring-token"
FREQUENCIES = [
    "weekly",
    "biweekly",
    "monthly",
    "quarterly",
    "per_six_months",
    "annually",
    "per_two_years",
    "per_three_years",
    "per_four_years",
    "per_five_years",
]
RECURRING = [
    "recurringbillingfrequency",
    "hs_recurring_billing_period",
    "hs_recurring_billing_start_date",
    "hs_billing_start_delay_type",
    "hs_billing_start_delay_days",
    "hs_billing_start_delay_months",
    "hs_recurring_billing_number_of_payments",
    "hs_recurring_billing_end_date",
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HubSpotSandbox]:
    box = create_hubspot_sandbox(clock=FakeClock(), access_token=TOKEN, seed=5, rate_limit_per_10s=10_000)
    yield box
    box.close()


@pytest.fixture(scope="module")
def hs(sandbox: HubSpotSandbox) -> Iterator[HubSpot]:
    with serve(sandbox.app) as served:
        yield HubSpot(access_token=TOKEN, host=served.url, client_side_validation=True)


def create(hs: HubSpot, **properties: Any) -> SimplePublicObject:
    return hs.crm.line_items.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"name": "保守", "price": "10000", **properties})
    )


def read(hs: HubSpot, item_id: str) -> dict[str, str | None]:
    return dict(hs.crm.line_items.basic_api.get_by_id(item_id, properties=RECURRING).properties)


def refusal(raised: pytest.ExceptionInfo[ApiException]) -> list[dict[str, Any]]:
    """The problems of HubSpot's 400 ``Property values were not valid: [...]`` answer, checked for its shape."""
    assert raised.value.status == 400
    body = json.loads(raised.value.body)
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    prefix = "Property values were not valid: "
    assert body["message"].startswith(prefix)
    problems: list[dict[str, Any]] = json.loads(body["message"][len(prefix) :])
    assert all(p["isValid"] is False for p in problems)
    assert [e["context"] for e in body["errors"]] == [{"propertyName": [p["name"]]} for p in problems]
    return problems


# -- what HubSpot defines -----------------------------------------------------------------------------------------


def test_the_portal_defines_every_recurring_property_with_hubspots_types_and_options(hs: HubSpot) -> None:
    core = hs.crm.properties.core_api
    found = {name: core.get_by_name("line_items", name) for name in RECURRING}

    assert all(isinstance(p, ModelProperty) for p in found.values())
    assert {name: p.type for name, p in found.items()} == {
        "recurringbillingfrequency": "enumeration",
        "hs_recurring_billing_period": "string",
        "hs_recurring_billing_start_date": "date",
        "hs_billing_start_delay_type": "enumeration",
        "hs_billing_start_delay_days": "number",
        "hs_billing_start_delay_months": "number",
        "hs_recurring_billing_number_of_payments": "number",
        "hs_recurring_billing_end_date": "date",
    }
    assert [o.value for o in found["recurringbillingfrequency"].options] == FREQUENCIES
    assert [o.value for o in found["hs_billing_start_delay_type"].options] == [
        "hs_recurring_billing_start_date",
        "hs_billing_start_delay_days",
        "hs_billing_start_delay_months",
    ]
    calculated = found["hs_recurring_billing_number_of_payments"].modification_metadata
    assert calculated.read_only_value is True
    assert set(RECURRING) <= set(LINE_ITEM_PROPERTIES)  # the client reads every one of them


# -- what HubSpot takes and keeps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "period", "payments"),
    [
        ("monthly", "P8M", "8"),  # the guide's examples
        ("quarterly", "P1Y", "4"),
        ("annually", "P3Y", "3"),
        ("weekly", "P12W", "12"),
        ("biweekly", "P12W", "6"),
        ("per_six_months", "P2Y", "4"),
        ("per_five_years", "P10Y", "2"),
        ("monthly", "P1Y6M", "18"),
        ("weekly", "P14D", "2"),
    ],
)
def test_a_term_gives_hubspots_number_of_payments(
    hs: HubSpot, frequency: str, period: str, payments: str
) -> None:
    item = create(hs, recurringbillingfrequency=frequency, hs_recurring_billing_period=period)

    shown = read(hs, item.id)
    assert (shown["recurringbillingfrequency"], shown["hs_recurring_billing_period"]) == (frequency, period)
    assert shown["hs_recurring_billing_number_of_payments"] == payments


@pytest.mark.parametrize(
    ("frequency", "period"),
    [
        ("monthly", None),  # renews until cancelled
        (None, "P12M"),  # no frequency: a one-off line
        ("quarterly", "P13M"),  # not a whole number of quarters: HubSpot's answer is not documented
        ("monthly", "P12W"),  # weeks with a months frequency: likewise
    ],
)
def test_no_number_of_payments_without_a_countable_term(
    hs: HubSpot, frequency: str | None, period: str | None
) -> None:
    given = {"recurringbillingfrequency": frequency, "hs_recurring_billing_period": period}
    item = create(hs, **{k: v for k, v in given.items() if v is not None})

    assert read(hs, item.id)["hs_recurring_billing_number_of_payments"] is None


def test_changing_the_term_recounts_and_clearing_it_empties_the_count(hs: HubSpot) -> None:
    item = create(hs, recurringbillingfrequency="monthly", hs_recurring_billing_period="P12M")
    update = hs.crm.line_items.basic_api.update

    update(item.id, SimplePublicObjectInput(properties={"hs_recurring_billing_period": "P24M"}))
    assert read(hs, item.id)["hs_recurring_billing_number_of_payments"] == "24"
    update(item.id, SimplePublicObjectInput(properties={"recurringbillingfrequency": "quarterly"}))
    assert read(hs, item.id)["hs_recurring_billing_number_of_payments"] == "8"
    update(item.id, SimplePublicObjectInput(properties={"hs_recurring_billing_period": ""}))
    assert read(hs, item.id)["hs_recurring_billing_number_of_payments"] in ("", None)  # until cancelled


@pytest.mark.parametrize("written", ["2026-12-01", "1796083200000", "2026-12-01T00:00:00Z"])
def test_a_start_date_is_kept_as_a_calendar_date(hs: HubSpot, written: str) -> None:
    item = create(hs, recurringbillingfrequency="monthly", hs_recurring_billing_start_date=written)

    assert read(hs, item.id)["hs_recurring_billing_start_date"] == "2026-12-01"


@pytest.mark.parametrize(
    ("delay_type", "sibling", "value"),
    [
        ("hs_recurring_billing_start_date", "hs_recurring_billing_start_date", "2027-01-15"),
        ("hs_billing_start_delay_days", "hs_billing_start_delay_days", "30"),
        ("hs_billing_start_delay_months", "hs_billing_start_delay_months", "2"),
    ],
)
def test_each_delay_type_names_the_property_that_sets_the_start(
    hs: HubSpot, delay_type: str, sibling: str, value: str
) -> None:
    item = create(
        hs, recurringbillingfrequency="monthly", hs_billing_start_delay_type=delay_type, **{sibling: value}
    )

    shown = read(hs, item.id)
    assert (shown["hs_billing_start_delay_type"], shown[sibling]) == (delay_type, value)


# -- what HubSpot refuses -----------------------------------------------------------------------------------------


def test_an_unknown_frequency_is_not_one_of_the_allowed_options(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as raised:
        create(hs, recurringbillingfrequency="yearly")

    [problem] = refusal(raised)
    assert (problem["name"], problem["error"]) == ("recurringbillingfrequency", "INVALID_OPTION")
    assert "yearly" in problem["message"]


@pytest.mark.parametrize("period", ["24", "12M", "P", "P12", "p12m", "P1.5Y", "P1W2D", "P-1M", "12 months"])
def test_a_term_that_is_no_iso_duration_is_an_invalid_recurring_billing_duration(
    hs: HubSpot, period: str
) -> None:
    with pytest.raises(ApiException) as raised:
        create(hs, recurringbillingfrequency="monthly", hs_recurring_billing_period=period)

    assert refusal(raised) == [
        {
            "isValid": False,
            "message": f"The recurring billing duration '{period}' is not a valid billing duration",
            "error": "INVALID_RECURRING_BILLING_DURATION",
            "name": "hs_recurring_billing_period",
            "localizedErrorMessage": f"The recurring billing duration '{period}' is not a valid billing duration",
        }
    ]


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("hs_billing_start_delay_type", "days", "INVALID_OPTION"),
        ("hs_billing_start_delay_days", "thirty", "INVALID_FLOAT"),
        ("hs_billing_start_delay_months", "2ヶ月", "INVALID_FLOAT"),
        ("hs_recurring_billing_start_date", "2026-13-01", "INVALID_DATE"),
        ("hs_recurring_billing_start_date", "2026-12-01T03:00:00Z", "INVALID_DATE"),
        ("hs_recurring_billing_number_of_payments", "12", "READ_ONLY_VALUE"),
    ],
)
def test_a_malformed_start_or_a_calculated_value_is_refused(
    hs: HubSpot, name: str, value: str, code: str
) -> None:
    with pytest.raises(ApiException) as raised:
        create(hs, recurringbillingfrequency="monthly", **{name: value})

    [problem] = refusal(raised)
    assert (problem["name"], problem["error"]) == (name, code)


def test_a_start_that_is_not_midnight_utc_gets_hubspots_message(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as raised:
        create(hs, hs_recurring_billing_start_date="1570233600")  # seconds, not milliseconds

    [problem] = refusal(raised)
    assert problem["message"] == "1570233600 is at 4:10:33.600 UTC, not midnight!"


def test_every_bad_value_is_named_at_once_and_a_batch_with_one_writes_nothing(
    hs: HubSpot, sandbox: HubSpotSandbox
) -> None:
    before = len(sandbox.state.objects["line_items"])
    good = {"name": "月額", "recurringbillingfrequency": "monthly", "hs_recurring_billing_period": "P12M"}
    bad = {"name": "誤り", "recurringbillingfrequency": "every_month", "hs_recurring_billing_period": "12"}

    with pytest.raises(ApiException) as raised:
        hs.crm.line_items.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(properties=good),
                    SimplePublicObjectBatchInputForCreate(properties=bad),
                ]
            )
        )

    assert sorted((p["name"], p["error"]) for p in refusal(raised)) == [
        ("hs_recurring_billing_period", "INVALID_RECURRING_BILLING_DURATION"),
        ("recurringbillingfrequency", "INVALID_OPTION"),
    ]
    assert len(sandbox.state.objects["line_items"]) == before
