"""Custom workflow action requests as HubSpot's current reference has them.

The reference: HubSpot's "Automation Actions V4" OpenAPI document (``info.version`` ``v4``, the paths
``/automation/v4/actions/...``), revision of 2026-08-14 in HubSpot-public-api-spec-collection
(``PublicApiSpecs/Automation/Actions V4/Rollouts/148901/v4/actionsV4.json``). Since its revision of 2026-02-10 it
requires fields the official ``hubspot-api-client`` 12.0.0 does not have (a callback completion's
``typedOutputs``; an output field's ``schema`` and ``useChirp``), and the official models do not check required
fields at all (their client-side validation is off). So every body the project sends to these endpoints is one of
these models first: a required field missing, a value of the wrong type or a field the reference does not know is
a ``ValueError`` naming it, before anything is sent. Field names (the aliases) are HubSpot's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

#: ``FieldTypeDefinition.type`` / ``PublicFieldTypeDefinition.type``
FieldKind = Literal[
    "bool",
    "currency_number",
    "date",
    "datetime",
    "enumeration",
    "json",
    "number",
    "object_coordinates",
    "phone_number",
    "string",
]


class _Reference(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
        defer_build=True,
    )


class FieldSchema(_Reference):
    """An output field's ``schema``: its ``type`` and that type's own bounds (``minimum``, ``format``, ...)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["INTEGER", "LONG", "DOUBLE", "STRING", "BOOLEAN", "ARRAY", "OBJECT", "UNKNOWN"]


class Option(_Reference):
    """An option of an output field (``Option``): every field required."""

    label: str
    value: str
    description: str
    display_order: int
    double_data: float
    hidden: bool
    read_only: bool


class PublicOption(_Reference):
    """An option of an input field (``PublicOption``)."""

    label: str
    value: str
    description: str | None = None
    display_order: int | None = None


class FieldTypeDefinition(_Reference):
    """An output field's ``typeDefinition``."""

    name: str = Field(min_length=1)
    type: FieldKind
    options: list[Option]
    external_options: bool
    field_schema: FieldSchema = Field(alias="schema")
    use_chirp: bool
    field_type: str | None = None
    label: str | None = None
    description: str | None = None
    help_text: str | None = None
    options_url: str | None = None
    referenced_object_type: str | None = None
    external_options_reference_type: str | None = None


class PublicFieldTypeDefinition(_Reference):
    """An input field's ``typeDefinition``."""

    name: str = Field(min_length=1)
    type: FieldKind
    options: list[PublicOption]
    field_type: str | None = None
    label: str | None = None
    description: str | None = None
    help_text: str | None = None
    options_url: str | None = None
    referenced_object_type: str | None = None


class InputFieldDefinition(_Reference):
    is_required: bool
    type_definition: PublicFieldTypeDefinition
    supported_value_types: list[Literal["STATIC_VALUE", "OBJECT_PROPERTY"]] | None = None


class OutputFieldDefinition(_Reference):
    type_definition: FieldTypeDefinition


class ActionLabels(_Reference):
    action_name: str = Field(min_length=1)
    action_card_content: str | None = None
    action_description: str | None = None
    app_display_name: str | None = None
    execution_rules: dict[str, str] | None = None
    input_field_descriptions: dict[str, str] | None = None
    input_field_labels: dict[str, str] | None = None
    input_field_option_labels: dict[str, dict[str, str]] | None = None
    output_field_labels: dict[str, str] | None = None


class ExecutionRule(_Reference):
    label_name: str
    conditions: dict[str, Any]


class ActionFunction(_Reference):
    function_type: Literal[
        "POST_ACTION_EXECUTION", "POST_FETCH_OPTIONS", "PRE_ACTION_EXECUTION", "PRE_FETCH_OPTIONS"
    ]
    function_source: str
    id: str | None = None


class ObjectRequestOptions(_Reference):
    properties: list[str]


class PublicActionDefinitionPatch(_Reference):
    """``PATCH /automation/v4/actions/{appId}/{definitionId}``: the fields given replace the stored ones."""

    action_url: str | None = None
    published: bool | None = None
    object_types: list[str] | None = None
    object_request_options: ObjectRequestOptions | None = None
    input_fields: list[InputFieldDefinition] | None = None
    output_fields: list[OutputFieldDefinition] | None = None
    input_field_dependencies: list[dict[str, Any]] | None = None
    execution_rules: list[ExecutionRule] | None = None
    labels: dict[str, ActionLabels] | None = None


class PublicActionDefinitionEgg(PublicActionDefinitionPatch):
    """``POST /automation/v4/actions/{appId}`` (``PublicActionDefinitionEgg``)."""

    action_url: str
    published: bool
    object_types: list[str]
    input_fields: list[InputFieldDefinition]
    labels: dict[str, ActionLabels]
    functions: list[ActionFunction]
    archived_at: int | None = None


class CallbackCompletionRequest(_Reference):
    """``POST /automation/v4/actions/callbacks/{callbackId}/complete`` (``CallbackCompletionRequest``):
    ``outputFields`` as text, and ``typedOutputs``, the same outputs with values of their fields' types."""

    output_fields: dict[str, str]
    typed_outputs: dict[str, Any]
    failure_reason_type: str | None = None


def reference_body(model: type[_Reference], data: Any) -> dict[str, Any]:
    """``data`` checked against ``model`` and given back as HubSpot's JSON (only the fields it set).

    Raises ``ValueError`` listing every problem by its JSON path, e.g. ``outputFields.0.typeDefinition.schema:
    Field required``."""
    try:
        checked = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or '(body)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise ValueError(
            f"not what HubSpot's reference ({model.__name__}) accepts: " + "; ".join(problems)
        ) from None
    return checked.model_dump(mode="json", by_alias=True, exclude_unset=True)


__all__ = [
    "CallbackCompletionRequest",
    "FieldTypeDefinition",
    "OutputFieldDefinition",
    "PublicActionDefinitionEgg",
    "PublicActionDefinitionPatch",
    "reference_body",
]
