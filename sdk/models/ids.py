"""The one strictness policy for HubSpot ids in everything a caller sends (webhook events, workflow actions, the
custom-code body, the card's query, queue messages).

An id is a positive integer, or a string of ASCII digits, at most ``2**63 - 1`` (HubSpot's ids are 64-bit).
Booleans are never ids (JSON ``true`` is not portal 1), floats are not ids (``1.0``, ``1e3``), and neither are
signs, spaces, full-width digits or other Unicode digits. :data:`HubSpotId` reads as ``int``;
:data:`HubSpotIdText` reads as its canonical digits (``"007"`` → ``"7"``), for ids the code keeps as text (deal
ids). A value outside the policy fails validation at its own field, so a 400 names where it was.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: Any) -> int:
    """``value`` as an id under the policy above; ``ValueError`` saying why not (without echoing the value)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not an id; send a positive integer or a string of digits")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _MAX_DIGITS:
        number = int(value)
    else:
        raise ValueError("not an id; send a positive integer or a string of ASCII digits")
    if not 0 < number <= MAX_ID:
        raise ValueError(f"an id is between 1 and {MAX_ID}")
    return number


def _as_text(value: Any) -> str:
    return str(parse_id(value))


HubSpotId = Annotated[int, PlainValidator(parse_id, json_schema_input_type=int | str)]
HubSpotIdText = Annotated[str, PlainValidator(_as_text, json_schema_input_type=int | str)]

__all__ = ["MAX_ID", "HubSpotId", "HubSpotIdText", "parse_id"]
