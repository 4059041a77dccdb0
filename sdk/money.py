"""Integer yen. Decimal in, ``int`` out: no float ever touches an amount.

HubSpot sends numbers as strings ("1100000", "1.5", "1e3"); freee answers with JSON numbers that may be
floats (``110000.0``). Everything passes through :func:`to_decimal` and leaves through :func:`round_yen`.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum

from sdk.errors import NotANumber

# 28 significant digits is Python's default; amounts up to 10**15 yen with 3 decimals need 19.
_CONTEXT = decimal.Context(prec=40, traps=[decimal.InvalidOperation, decimal.DivisionByZero])


class Rounding(StrEnum):
    """How a fraction of a yen is settled. freee calls these omit / round / round_up."""

    FLOOR = "floor"
    ROUND = "round"
    CEIL = "ceil"

    @property
    def freee(self) -> str:
        """The value of freee's ``tax_fraction`` / ``line_amount_fraction``."""
        return {"floor": "omit", "round": "round", "ceil": "round_up"}[self.value]

    @property
    def decimal_mode(self) -> str:
        return {"floor": decimal.ROUND_FLOOR, "round": decimal.ROUND_HALF_UP, "ceil": decimal.ROUND_CEILING}[
            self.value
        ]


def to_decimal(value: str | int | Decimal | float) -> Decimal:
    """Parse a number exactly. Floats go through ``repr`` so ``0.1`` stays ``0.1``."""
    if isinstance(value, bool):
        raise NotANumber(f"not a number: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip().replace(",", "")
        if value.startswith("¥") or value.startswith("￥"):
            value = value[1:]
    try:
        result = _CONTEXT.create_decimal(value)
    except (decimal.InvalidOperation, TypeError, ValueError) as exc:
        raise NotANumber(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise NotANumber(f"not a finite number: {value!r}")
    return result


def round_yen(amount: Decimal, rounding: Rounding) -> int:
    """Settle a fractional amount to whole yen with one rounding."""
    return int(amount.quantize(Decimal(1), rounding=rounding.decimal_mode, context=_CONTEXT))


def exact_yen(value: str | int | Decimal | float) -> int:
    """A whole-yen amount; raises ``ValueError`` when the value has a fractional part."""
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number of yen: {value!r}")
    return int(number)


def decimal_places(number: Decimal) -> int:
    """How many digits after the point the number really needs (``1.500`` needs 1)."""
    normalized = number.normalize(context=_CONTEXT)
    exponent = normalized.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def plain(number: Decimal) -> str:
    """A decimal as freee wants it in ``unit_price``: no exponent, no trailing zeros (``"1500"``, ``"0.5"``)."""
    normalized = number.normalize(context=_CONTEXT)
    text = format(normalized, "f")
    return text if text != "-0" else "0"


def format_yen(amount: int) -> str:
    """``1234567`` → ``"¥1,234,567"`` for people."""
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,}"


def line_amount(quantity: Decimal, unit_price: Decimal, rounding: Rounding) -> int:
    """A line's amount in whole yen: quantity × unit price, settled once, as freee's ``line_amount_fraction``."""
    return round_yen(quantity * unit_price, rounding)
