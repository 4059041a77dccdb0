"""Create the ``freee`` property group and every property of DESIGN §5 on deals, companies and line items.

Idempotent: what exists is left as it is; the answer lists what was created and what already existed (in a dry
run, what would be created).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from sdk.properties import GROUP_LABEL, property_definitions

if TYPE_CHECKING:
    from sdk.settings import Settings


class PropertyAdmin(Protocol):
    def ensure_property_group(self, object_type: str, name: str, label: str) -> bool: ...

    def ensure_properties(self, object_type: str, definitions: Iterable[Mapping[str, Any]]) -> list[str]: ...


#: the private-app scopes the property setup needs, per object type. Line items have no ``crm.schemas.*.write``
#: scope of their own: HubSpot grants their property definitions with ``e-commerce``.
SCHEMA_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "deals": ("crm.schemas.deals.read", "crm.schemas.deals.write"),
    "companies": ("crm.schemas.companies.read", "crm.schemas.companies.write"),
    "line_items": ("e-commerce",),
}


class PropertyReader(PropertyAdmin, Protocol):
    def read_properties(self, object_type: str) -> Mapping[str, Mapping[str, Any]]: ...

    def read_property_groups(self, object_type: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ObjectSetup:
    """One object type after (or, in a dry run, before) the setup: what was (would be) created, what existed."""

    object_type: str
    group_created: bool
    created: tuple[str, ...]
    existing: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type,
            "group_created": self.group_created,
            "created": list(self.created),
            "existing": list(self.existing),
        }


@dataclass(frozen=True, slots=True)
class PropertySetup:
    dry_run: bool
    group: str
    objects: tuple[ObjectSetup, ...]

    @property
    def created_count(self) -> int:
        return sum(len(o.created) + (1 if o.group_created else 0) for o in self.objects)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "group": self.group,
            "created": self.created_count,
            "objects": [o.as_dict() for o in self.objects],
        }


def setup_hubspot_properties(hubspot: PropertyReader, settings: Settings, *, dry_run: bool) -> PropertySetup:
    """What exists is read first; then (unless ``dry_run``) the rest is created. Idempotent: a second run
    reports everything as existing and creates nothing."""
    group = settings.properties.group
    objects: list[ObjectSetup] = []
    for object_type, definitions in property_definitions(settings.properties).items():
        present = hubspot.read_properties(object_type)
        wanted = [str(d["name"]) for d in definitions]
        existing = tuple(n for n in wanted if n in present)
        if dry_run:
            group_created = group not in hubspot.read_property_groups(object_type)
            created = tuple(n for n in wanted if n not in present)
        else:
            group_created = hubspot.ensure_property_group(object_type, group, GROUP_LABEL)
            created = tuple(hubspot.ensure_properties(object_type, definitions))
        objects.append(ObjectSetup(object_type, group_created, created, existing))
    return PropertySetup(dry_run, group, tuple(objects))
