"""Create the ``freee`` property group and every property of DESIGN §5 on deals, companies and line items.

Idempotent: what exists is left as it is; the answer lists what was created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sdk.properties import GROUP_LABEL, property_definitions

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from sdk.settings import Settings


class PropertyAdmin(Protocol):
    def ensure_property_group(self, object_type: str, name: str, label: str) -> bool: ...

    def ensure_properties(self, object_type: str, definitions: Iterable[Mapping[str, Any]]) -> list[str]: ...


def ensure_hubspot_properties(hubspot: PropertyAdmin, settings: Settings) -> dict[str, list[str]]:
    """``{object type: [names created]}`` (the group counts as ``group:<name>`` when it was created)."""
    created: dict[str, list[str]] = {}
    for object_type, definitions in property_definitions(settings.properties).items():
        made: list[str] = []
        if hubspot.ensure_property_group(object_type, settings.properties.group, GROUP_LABEL):
            made.append(f"group:{settings.properties.group}")
        made.extend(hubspot.ensure_properties(object_type, definitions))
        created[object_type] = made
    return created
