"""Register the app's custom workflow actions (``workflows/actions/*.json``) with HubSpot, idempotently.

Each file is HubSpot's v4 definition with ``{base_url}`` in ``actionUrl``. A file is matched to a definition the
app already has by what it does: the ``actionUrl`` path after the base (``/actions/create-invoice``, so a new
deployment URL updates the definition rather than adding a second one), else its English ``actionName``. Then:

* no match → created;
* a match that differs in any field the file sets → updated (PATCH of every field the file sets);
* a match equal in every field the file sets → unchanged, and nothing is written (no new revision).

Fields HubSpot adds to its answers (ids, revisions, option defaults) are not differences; a field removed from the
file is not one either (PATCH could not remove it): change it instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from sdk.errors import DefinitionFileError
from sdk.models.hubspot import ACTION_PATCH_FIELDS

BASE_URL_PLACEHOLDER = "{base_url}"


class ActionDefinitions(Protocol):
    """The calls :func:`register_actions` makes (``sdk.hubspot.HubSpotClient`` has them)."""

    def list_action_definitions(self, app_id: int) -> list[dict[str, Any]]: ...

    def create_action_definition(self, app_id: int, definition: Mapping[str, Any]) -> dict[str, Any]: ...

    def update_action_definition(
        self, app_id: int, definition_id: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]: ...


class Registration(StrEnum):
    """What :func:`register_actions` did with a definition file in HubSpot."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class RegisteredAction:
    """What happened to one definition file."""

    name: str  # the file's stem, e.g. "create_invoice"
    status: Registration
    definition_id: str
    revision_id: str
    action_url: str
    published: bool
    action_name: str
    changed: tuple[str, ...] = ()  # the top-level fields that differed (for ``updated``)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "definition_id": self.definition_id,
            "revision_id": self.revision_id,
            "action_url": self.action_url,
            "published": self.published,
            "action_name": self.action_name,
            "changed": list(self.changed),
        }


@dataclass(frozen=True, slots=True)
class ActionFile:
    """One definition file with its ``actionUrl`` filled in."""

    name: str
    path: Path
    definition: dict[str, Any]
    url_path: str  # what comes after the base URL, e.g. "/actions/create-invoice" ("" without placeholder)

    @property
    def action_name(self) -> str:
        return str(self.definition.get("labels", {}).get("en", {}).get("actionName", ""))


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """What a definition file has in HubSpot: the app's definition doing what it does (``match``, None when there
    is none) and the fields the file sets that differ from it (``changed``; none: the two agree)."""

    action: ActionFile
    match: dict[str, Any] | None
    changed: tuple[str, ...] = ()


def plan_actions(files: list[ActionFile], existing: list[dict[str, Any]]) -> list[PlannedAction]:
    """Each file against the app's live definitions ``existing`` (as HubSpot lists them): no match → create, a
    match with ``changed`` fields → update, else unchanged. :func:`register_actions` acts on it; ``doctor``
    reports it."""
    live = [d for d in existing if not d.get("archivedAt")]
    taken: set[str] = set()
    planned: list[PlannedAction] = []
    for action in files:
        match = _match(action, live, taken)
        if match is None:
            planned.append(PlannedAction(action, None))
            continue
        taken.add(str(match["id"]))
        changed = tuple(
            k for k, v in action.definition.items() if k in ACTION_PATCH_FIELDS and not _same(v, match.get(k))
        )
        planned.append(PlannedAction(action, match, changed))
    return planned


def register_actions(
    hubspot: ActionDefinitions, app_id: int, base_url: str, definitions_dir: Path
) -> list[RegisteredAction]:
    """Create or update every ``*.json`` definition in ``definitions_dir`` for the app, in file-name order.

    Calls: one listing (more when HubSpot pages), then one create or update per file that needs one."""
    files = load_action_files(definitions_dir, base_url)
    registered: list[RegisteredAction] = []
    for step in plan_actions(files, hubspot.list_action_definitions(app_id)):
        action = step.action
        if step.match is None:
            created = hubspot.create_action_definition(app_id, action.definition)
            registered.append(_registered(action, created, Registration.CREATED))
        elif not step.changed:
            registered.append(_registered(action, step.match, Registration.UNCHANGED))
        else:
            changes = {k: v for k, v in action.definition.items() if k in ACTION_PATCH_FIELDS}
            updated = hubspot.update_action_definition(app_id, str(step.match["id"]), changes)
            registered.append(_registered(action, updated, Registration.UPDATED, step.changed))
    return registered


def load_action_files(definitions_dir: Path, base_url: str) -> list[ActionFile]:
    """Every ``*.json`` in the folder, ``{base_url}`` replaced; a bad file is a :class:`DefinitionFileError`."""
    base = base_url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DefinitionFileError(
            f"base URL {base_url!r} is not an absolute http(s) URL (e.g. https://invoices.example.jp) / "
            "ベースURLは https:// から始まる絶対URLで指定してください"
        )
    if not definitions_dir.is_dir():
        raise DefinitionFileError(
            f"{definitions_dir}: no such folder of action definitions / フォルダがありません"
        )
    paths = sorted(definitions_dir.glob("*.json"))
    if not paths:
        raise DefinitionFileError(
            f"{definitions_dir}: no *.json action definitions in it / 定義ファイルがありません"
        )
    return [_load(path, base) for path in paths]


def _load(path: Path, base: str) -> ActionFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionFileError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise DefinitionFileError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise DefinitionFileError(f"{path}: not a definition (a JSON object)")
    template = data.get("actionUrl")
    if not isinstance(template, str) or not template:
        raise DefinitionFileError(f'{path}: actionUrl is missing (e.g. "{BASE_URL_PLACEHOLDER}/actions/...")')
    english = (data.get("labels") or {}).get("en") if isinstance(data.get("labels"), dict) else None
    if not isinstance(english, dict) or not english.get("actionName"):
        raise DefinitionFileError(
            f"{path}: labels.en.actionName is missing (HubSpot requires English labels)"
        )
    url_path = ""
    if BASE_URL_PLACEHOLDER in template:
        url_path = template.split(BASE_URL_PLACEHOLDER, 1)[1].split("?", 1)[0].rstrip("/")
        data = {**data, "actionUrl": template.replace(BASE_URL_PLACEHOLDER, base)}
    return ActionFile(path.stem, path, data, url_path)


def _match(action: ActionFile, existing: list[dict[str, Any]], taken: set[str]) -> dict[str, Any] | None:
    """The app's definition doing what the file does: same ``actionUrl`` path, else same English name."""
    free = [d for d in existing if str(d.get("id")) not in taken]
    if action.url_path:
        for definition in free:
            if urlsplit(str(definition.get("actionUrl", ""))).path.rstrip("/").endswith(action.url_path):
                return definition
    for definition in free:
        if str(definition.get("actionUrl", "")) == action.definition["actionUrl"]:
            return definition
    for definition in free:
        labels = definition.get("labels") or {}
        if action.action_name and (labels.get("en") or {}).get("actionName") == action.action_name:
            return definition
    return None


def _same(wanted: Any, have: Any) -> bool:
    """Whether HubSpot's ``have`` already says everything ``wanted`` says (extra fields in ``have`` are fine)."""
    if isinstance(wanted, Mapping):
        if not isinstance(have, Mapping):
            return not wanted and not have
        return all(_same(v, have[k]) if k in have else _empty(v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        if not isinstance(have, list | tuple):
            return not wanted and not have
        return len(wanted) == len(have) and all(_same(w, h) for w, h in zip(wanted, have, strict=True))
    if isinstance(wanted, bool) or isinstance(have, bool):
        return wanted is have or (_empty(wanted) and _empty(have))
    return bool(wanted == have)


def _empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def _registered(
    action: ActionFile, answer: Mapping[str, Any], status: Registration, changed: tuple[str, ...] = ()
) -> RegisteredAction:
    labels = answer.get("labels") or {}
    return RegisteredAction(
        name=action.name,
        status=status,
        definition_id=str(answer.get("id", "")),
        revision_id=str(answer.get("revisionId", "")),
        action_url=str(answer.get("actionUrl", "")),
        published=bool(answer.get("published")),
        action_name=str((labels.get("en") or {}).get("actionName", action.action_name)),
        changed=changed,
    )


__all__ = [
    "BASE_URL_PLACEHOLDER",
    "ActionDefinitions",
    "ActionFile",
    "PlannedAction",
    "RegisteredAction",
    "Registration",
    "load_action_files",
    "plan_actions",
    "register_actions",
]
