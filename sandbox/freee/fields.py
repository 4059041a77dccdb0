"""Request checking: one JSON object (or form, or query string) against a few schema rules, every problem
collected in Japanese as freee reports them; and the decimal arithmetic the checks and totals share."""

from __future__ import annotations

import contextlib
import decimal
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.freee.errors import _invalid
from sandbox.freee.facts import _MATH, _ROUNDING

_MISSING = object()
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class _Fields:
    """Checks one JSON object against a few schema rules, collecting every problem in Japanese."""

    def __init__(
        self,
        data: Mapping[str, Any],
        where: str = "",
        *,
        form: bool = False,
        problems: list[str] | None = None,
    ) -> None:
        self.data = data
        self.where = where
        self.form = form
        self.problems: list[str] = problems if problems is not None else []

    def child(self, data: Mapping[str, Any], where: str) -> _Fields:
        return _Fields(data, where, form=self.form, problems=self.problems)

    def label(self, name: str) -> str:
        return f"{self.where}{name}"

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise _invalid(self.problems)

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(f"{self.label(name)} は必須項目です。")
            return _MISSING
        return value

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        enum: Iterable[str] | None = None,
    ) -> str | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(f"{self.label(name)} は文字列で指定してください。")
            return None
        before = len(self.problems)
        if min_length is not None and len(value) < min_length:
            self.fail(
                f"{self.label(name)} を入力してください。"
                if min_length == 1
                else f"{self.label(name)} は{min_length}文字以上で入力してください。"
            )
        if max_length is not None and len(value) > max_length:
            self.fail(f"{self.label(name)} は{max_length}文字以内で入力してください。")
        if pattern is not None and not re.fullmatch(pattern, value):
            self.fail(f"{self.label(name)} の形式が正しくありません。")
        if enum is not None:
            allowed = list(enum)
            if value not in allowed:
                self.fail(f"{self.label(name)} には {', '.join(allowed)} のいずれかを指定してください。")
        return value if len(self.problems) == before else None

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        enum: Iterable[int] | None = None,
    ) -> int | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if self.form and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            value = int(value)
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{self.label(name)} は整数で指定してください。")
            return None
        return value if self._in_range(name, value, minimum, maximum, enum) else None

    def number(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
    ) -> Decimal | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if self.form and isinstance(value, str):
            with contextlib.suppress(decimal.InvalidOperation):
                value = Decimal(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(f"{self.label(name)} は数値で指定してください。")
            return None
        number = Decimal(value)
        if not number.is_finite():
            self.fail(f"{self.label(name)} は数値で指定してください。")
            return None
        return number if self._in_range(name, number, minimum, maximum, None) else None

    def _in_range(
        self, name: str, value: Any, minimum: Any, maximum: Any, enum: Iterable[int] | None
    ) -> bool:
        if enum is not None:
            allowed = list(enum)
            if value not in allowed:
                self.fail(
                    f"{self.label(name)} には {', '.join(map(str, allowed))} のいずれかを指定してください。"
                )
                return False
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum}以上"
            high = "" if maximum is None else f"{maximum}以下"
            self.fail(f"{self.label(name)} は{low}{high}の値で指定してください。")
            return False
        return True

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if self.form and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            value = value.lower() in ("true", "1")
        if not isinstance(value, bool):
            self.fail(f"{self.label(name)} は true または false で指定してください。")
            return None
        return value

    def date(self, name: str, *, required: bool = False) -> date | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        parsed = _parse_date(value)
        if parsed is None:
            self.fail(f"{self.label(name)} は yyyy-mm-dd 形式の正しい日付で指定してください。")
        return parsed

    def obj(self, name: str) -> Mapping[str, Any] | None:
        value = self._get(name, False)
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.fail(f"{self.label(name)} はオブジェクトで指定してください。")
            return None
        return value

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        value = self._get(name, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.fail(f"{self.label(name)} は配列で指定してください。")
            return None
        return value


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _decimal_places(number: Decimal) -> int:
    exponent = number.normalize(_MATH).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _yen(value: Decimal, mode: str) -> int:
    return int(value.quantize(Decimal(1), rounding=_ROUNDING[mode], context=_MATH))


def _number_out(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
