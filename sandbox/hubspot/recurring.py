"""HubSpot's recurring-billing line-item properties, as ``specs/hubspot/recurring-line-items.md`` records them:
the frequency dropdown, the term (an ISO-8601 duration) with the answer HubSpot gives a malformed one, the start
delay dropdown, and the number of payments HubSpot calculates from term and frequency.

Where HubSpot's behaviour is not documented (a term that is not a whole number of intervals, negative delays),
the sandbox accepts the value and calculates nothing: the notes say which choices are the sandbox's own."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, Final

from sandbox.hubspot.errors import _problem

FREQUENCY: Final = "recurringbillingfrequency"
PERIOD: Final = "hs_recurring_billing_period"
START_DATE: Final = "hs_recurring_billing_start_date"
DELAY_TYPE: Final = "hs_billing_start_delay_type"
DELAY_DAYS: Final = "hs_billing_start_delay_days"
DELAY_MONTHS: Final = "hs_billing_start_delay_months"
NUMBER_OF_PAYMENTS: Final = "hs_recurring_billing_number_of_payments"
END_DATE: Final = "hs_recurring_billing_end_date"

#: ``recurringbillingfrequency``'s values (documented) → the interval: (weeks, months), one of them 0 (inferred)
INTERVALS: Final[dict[str, tuple[int, int]]] = {
    "weekly": (1, 0),
    "biweekly": (2, 0),
    "monthly": (0, 1),
    "quarterly": (0, 3),
    "per_six_months": (0, 6),
    "annually": (0, 12),
    "per_two_years": (0, 24),
    "per_three_years": (0, 36),
    "per_four_years": (0, 48),
    "per_five_years": (0, 60),
}
#: ``hs_billing_start_delay_type``'s values: the name of the sibling property that applies (inferred)
DELAY_TYPES: Final = (START_DATE, DELAY_DAYS, DELAY_MONTHS)
#: ``PnYnMnD`` (at least one part, in that order) or ``PnW``, as the line items guide documents the term
_DURATION = re.compile(r"^P(?:(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?|(\d+)W)$")

# name, label, type, fieldType, options, read-only value (the shape of ``catalog._STANDARD_PROPERTIES``)
PROPERTIES: Final[tuple[tuple[str, str, str, str, tuple[str, ...], bool], ...]] = (
    (FREQUENCY, "Billing frequency", "enumeration", "select", tuple(INTERVALS), False),
    (PERIOD, "Term", "string", "text", (), False),
    (START_DATE, "Billing start date", "date", "date", (), False),
    (DELAY_TYPE, "Start billing terms", "enumeration", "select", DELAY_TYPES, False),
    (DELAY_DAYS, "Delayed billing start by days", "number", "number", (), False),
    (DELAY_MONTHS, "Delayed billing start by months", "number", "number", (), False),
    (NUMBER_OF_PAYMENTS, "Number of payments", "number", "number", (), True),
    (END_DATE, "Billing end date", "date", "date", (), False),
)


def value_problem(object_type: str, name: str, value: str) -> dict[str, Any] | None:
    """HubSpot's problem with a (non-empty) line item term that is no ISO-8601 duration; None otherwise."""
    if object_type != "line_items" or name != PERIOD or _DURATION.match(value):
        return None
    return _problem(
        name,
        "INVALID_RECURRING_BILLING_DURATION",
        f"The recurring billing duration '{value}' is not a valid billing duration",
    )


def number_of_payments(frequency: str | None, period: str | None) -> int | None:
    """The payments in a term: the term divided by the frequency's interval, when both are set and it divides
    into a whole number (months by a months frequency; weeks, or days, by ``weekly`` / ``biweekly``)."""
    interval = INTERVALS.get(frequency or "")
    found = _DURATION.match(period or "")
    if interval is None or found is None:
        return None
    years, months, days, weeks = (int(part) if part else 0 for part in found.groups())
    every_weeks, every_months = interval
    if every_months:
        total, step = (0, 0) if days or weeks else (12 * years + months, every_months)
    else:
        total, step = (0, 0) if years or months else (7 * weeks + days, 7 * every_weeks)
    if not total or total % step:
        return None
    return total // step


def derive(props: MutableMapping[str, str | None]) -> None:
    """HubSpot's calculated ``hs_recurring_billing_number_of_payments`` (empty when it cannot be counted)."""
    count = number_of_payments(props.get(FREQUENCY), props.get(PERIOD))
    if count is not None:
        props[NUMBER_OF_PAYMENTS] = str(count)
    elif props.get(NUMBER_OF_PAYMENTS):
        props[NUMBER_OF_PAYMENTS] = ""
