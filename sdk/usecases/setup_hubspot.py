"""Create the ``freee`` property group and every property of DESIGN §5 on deals, companies and line items.

Idempotent: a property that exists keeps its definition, except that an enumeration (dropdown) of ours lacking
some of our options gets them added after its own (``freee_payment_terms`` from an older version, or a portal
that removed one); a property of ours found with another type (e.g. ``freee_payment_terms`` still a text field
from before it became a dropdown) is left as it is and reported, since changing its type could strand the values
already stored (text payment terms keep working: ``parse_terms`` reads the written forms). The answer lists what
was created, updated and found mismatched (in a dry run, what would be); a second run changes nothing.
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

    def add_property_options(
        self, object_type: str, name: str, options: Iterable[Mapping[str, Any]]
    ) -> list[str]: ...


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
class Mismatch:
    """A property of ours that exists with another type than ours: left as it is."""

    name: str
    found: str  # type/fieldType found, e.g. ``string/text``
    expected: str  # ours, e.g. ``enumeration/select``

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "found": self.found, "expected": self.expected}


@dataclass(frozen=True, slots=True)
class ObjectSetup:
    """One object type after (or, in a dry run, before) the setup: what was (would be) created, which dropdowns
    got (would get) which options, what existed, and what exists with another type (left as it is)."""

    object_type: str
    group_created: bool
    created: tuple[str, ...]
    existing: tuple[str, ...]
    options_added: tuple[tuple[str, tuple[str, ...]], ...] = ()
    mismatched: tuple[Mismatch, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type,
            "group_created": self.group_created,
            "created": list(self.created),
            "existing": list(self.existing),
            "options_added": {name: list(values) for name, values in self.options_added},
            "mismatched": [m.as_dict() for m in self.mismatched],
        }


@dataclass(frozen=True, slots=True)
class PropertySetup:
    dry_run: bool
    group: str
    objects: tuple[ObjectSetup, ...]

    @property
    def created_count(self) -> int:
        return sum(len(o.created) + (1 if o.group_created else 0) for o in self.objects)

    @property
    def updated_count(self) -> int:
        """Dropdowns that got (would get) options."""
        return sum(len(o.options_added) for o in self.objects)

    @property
    def mismatched(self) -> tuple[Mismatch, ...]:
        return tuple(m for o in self.objects for m in o.mismatched)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "group": self.group,
            "created": self.created_count,
            "updated": self.updated_count,
            "objects": [o.as_dict() for o in self.objects],
        }


def setup_hubspot_properties(hubspot: PropertyReader, settings: Settings, *, dry_run: bool) -> PropertySetup:
    """What exists is read first; then (unless ``dry_run``) the missing properties are created and our dropdowns'
    missing options added. Idempotent: a second run creates and updates nothing."""
    group = settings.properties.group
    objects: list[ObjectSetup] = []
    for object_type, definitions in property_definitions(settings.properties).items():
        present = hubspot.read_properties(object_type)
        wanted = [str(d["name"]) for d in definitions]
        existing = tuple(n for n in wanted if n in present)
        mismatched = tuple(
            Mismatch(
                str(d["name"]),
                f"{found.get('type')}/{found.get('fieldType')}",
                f"{d['type']}/{d['fieldType']}",
            )
            for d in definitions
            if (found := present.get(d["name"])) is not None and found.get("type") != d["type"]
        )
        lacking = [
            d
            for d in definitions
            if (found := present.get(d["name"])) is not None
            and found.get("type") == d["type"]
            and any(o["value"] not in found.get("options", []) for o in d.get("options", []))
        ]
        if dry_run:
            group_created = group not in hubspot.read_property_groups(object_type)
            created = tuple(n for n in wanted if n not in present)
            added = tuple(
                (
                    str(d["name"]),
                    tuple(
                        o["value"] for o in d["options"] if o["value"] not in present[d["name"]]["options"]
                    ),
                )
                for d in lacking
            )
        else:
            group_created = hubspot.ensure_property_group(object_type, group, GROUP_LABEL)
            created = tuple(hubspot.ensure_properties(object_type, definitions))
            added = tuple(
                (str(d["name"]), tuple(values))
                for d in lacking
                if (values := hubspot.add_property_options(object_type, str(d["name"]), d["options"]))
            )
        objects.append(ObjectSetup(object_type, group_created, created, existing, added, mismatched))
    return PropertySetup(dry_run, group, tuple(objects))
