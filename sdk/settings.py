"""Settings: environment first, then an optional ``hubspot-freee.toml``, then defaults.

Every name below is also an environment variable (upper case; nested groups joined by ``__``, e.g.
``TAX__ROUNDING=round`` or ``PROPERTIES__DEAL_INVOICE_ID=my_invoice_id``). The TOML file uses the same names in
lower case, groups as tables::

    freee_company_id = 1234567
    payment_terms_default = "month_end_next_month_end"

    [tax]
    rate = "10"
    entry_method = "out"
    rounding = "floor"

The file is ``./hubspot-freee.toml`` unless ``HUBSPOT_FREEE_CONFIG`` names another. Secrets are ``SecretStr``:
they print as ``**********`` and never reach a log or an error message.

On AWS, secrets are read at cold start from Secrets Manager, never from plain environment variables:
``SECRETS_ID`` names one secret (or several, comma-separated), each a JSON object whose keys are setting names as
environment variables, e.g. ``{"HUBSPOT_ACCESS_TOKEN": "...", "HUBSPOT_CLIENT_SECRET": "..."}``. Precedence:
``load_settings(**overrides)`` > environment = secrets > TOML file > defaults. The environment and the secrets
never overlap: a setting given by both (or by two secrets), a key that is no setting, or a secret that cannot be
read stops :func:`load_settings` with a ``SettingsError`` naming the key and the secret id, never a value.
boto3 and Powertools' parameters utility are imported only when ``SECRETS_ID`` is set.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sdk.billing.schedule import BILLING_SUBJECT_PLACEHOLDERS, CONSOLIDATED_SUBJECT_PLACEHOLDERS, Timing
from sdk.errors import SettingsError
from sdk.money import Rounding
from sdk.tax import TaxEntryMethod, TaxRate
from sdk.terms import IssueDateSource, PaymentTerms, parse_terms

CONFIG_ENV = "HUBSPOT_FREEE_CONFIG"
DEFAULT_CONFIG_FILE = "hubspot-freee.toml"
SECRETS_ENV = "SECRETS_ID"
#: how long a secret read from Secrets Manager is cached in the process (Powertools' cache)
SECRETS_MAX_AGE_SECONDS = 300
#: a freee write of the invoice process is sent only with more of the deal's lease left than freee's timeout plus
#: this (DESIGN §3.5); so ``invoice_lease_seconds`` must be longer than both
LEASE_MARGIN_SECONDS = 15.0


class TaxDefaults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: TaxRate = TaxRate.STANDARD_10
    entry_method: TaxEntryMethod = TaxEntryMethod.EXCLUSIVE
    rounding: Rounding = Rounding.FLOOR


class WonStageRules(BaseModel):
    """How a deal stage is recognised as won.

    By default a stage is won when its pipeline metadata says so (``isClosed`` = true and ``probability`` = 1.0),
    which works for custom pipelines with numeric stage ids. ``extra_stage_ids`` adds stages, ``excluded_stage_ids``
    removes some, and ``pipelines`` (when not empty) limits invoicing to those pipeline ids.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    use_metadata: bool = True
    extra_stage_ids: tuple[str, ...] = ()
    excluded_stage_ids: tuple[str, ...] = ()
    pipelines: tuple[str, ...] = ()


class PropertyNames(BaseModel):
    """The HubSpot properties this package reads and writes (DESIGN §5). Rename them here, never in code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = "freee"
    # deal
    deal_invoice_id: str = "freee_invoice_id"
    deal_invoice_number: str = "freee_invoice_number"
    deal_invoice_url: str = "freee_invoice_url"
    deal_sync_status: str = "freee_sync_status"
    deal_sync_error: str = "freee_sync_error"
    deal_sync_warning: str = "freee_sync_warning"
    deal_payment_status: str = "freee_payment_status"
    deal_amount_invoiced: str = "freee_amount_invoiced"
    deal_amount_paid: str = "freee_amount_paid"
    deal_amount_outstanding: str = "freee_amount_outstanding"
    deal_due_date: str = "freee_due_date"
    deal_paid_date: str = "freee_paid_date"
    deal_days_overdue: str = "freee_days_overdue"
    deal_synced_at: str = "freee_synced_at"
    # deal: the billing schedule (issue 17); the plan (equal instalments) is set by the rep, the rest by us
    deal_billing_plan: str = "freee_billing_plan"
    deal_next_billing_date: str = "freee_next_billing_date"
    deal_invoice_count: str = "freee_invoice_count"
    deal_billing_status: str = "freee_billing_status"
    # company
    company_partner_id: str = "freee_partner_id"
    company_outstanding_total: str = "freee_outstanding_total"
    company_overdue_total: str = "freee_overdue_total"
    company_overdue_invoice_count: str = "freee_overdue_invoice_count"
    company_oldest_overdue_days: str = "freee_oldest_overdue_days"
    company_last_payment_date: str = "freee_last_payment_date"
    company_payment_risk: str = "freee_payment_risk"
    company_registration_number: str = "freee_invoice_registration_number"
    company_payment_terms: str = "freee_payment_terms"
    # company inputs: an invoice per deal or one a month (consolidated), and the consolidated month's closing day
    company_billing_mode: str = "freee_billing_mode"
    company_closing_day: str = "freee_closing_day"
    # line item
    line_item_tax_rate: str = "freee_tax_rate"


class Settings(BaseSettings):
    """Everything the package can be told. Only what a command needs is required, and only when it runs."""

    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )

    # services
    hubspot_api_base: str = "https://api.hubapi.com"
    hubspot_access_token: SecretStr | None = None  # a private app's static token
    hubspot_client_secret: SecretStr | None = None
    # a public app (OAuth): its client id, and the refresh token of its installation in the portal (the seed of
    # the store's HubSpot token row, refreshed before each 30-minute access token expires); used instead of
    # hubspot_access_token when set
    hubspot_client_id: str | None = None
    hubspot_refresh_token: SecretStr | None = None
    hubspot_app_id: int | None = None
    hubspot_developer_access_token: SecretStr | None = (
        None  # OAuth token of the app's developer account (developers-read/-write): action definitions
    )
    hubspot_developer_api_key: SecretStr | None = (
        None  # legacy: the developer account's API key (hapikey), used only without the token above
    )
    hubspot_portal_id: int | None = Field(default=None, ge=1)
    public_base_url: str | None = (
        None  # the URL HubSpot calls (custom domain in front of API Gateway), for signatures
    )
    custom_code_secret: SecretStr | None = (
        None  # shared with the custom-code snippets (HubSpot secret HUBSPOT_FREEE_SECRET)
    )
    action_inline_seconds: float = Field(
        default=3.0, ge=0
    )  # a workflow action waits this long for freee, else BLOCK
    freee_api_base: str = "https://api.freee.co.jp"
    freee_auth_base: str = "https://accounts.secure.freee.co.jp"
    freee_client_id: str | None = None
    freee_client_secret: SecretStr | None = None
    # where freee sends the browser with the code (registered in the freee app): a loopback URI is received by
    # `setup freee` itself; urn:ietf:wg:oauth:2.0:oob (freee shows the code) or any other URI means pasting it
    freee_redirect_uri: str = "http://127.0.0.1:8765/callback"
    freee_company_id: int | None = Field(default=None, ge=1)
    freee_template_id: int | None = Field(default=None, ge=1)
    freee_partner_code_pattern: str = "HS-{company_id}"
    freee_use_partner_codes: bool = True
    cancel_invoice_when_lost: bool = False
    freee_max_lines: int = Field(default=100, ge=1, le=1000)
    freee_rate_limit_per_minute: int = Field(default=30, ge=1)
    freee_rate_limit_per_hour: int = Field(default=1500, ge=1)
    freee_timeout_seconds: float = Field(default=10.0, gt=0)
    # after a freee write whose answer was lost (time-out, reset), the deal stays claimed this long before another
    # attempt may look for the invoice by its marker and create: freee may still be committing a request we stopped
    # waiting for, and a new invoice can take a moment to show in its list (at most 900: SQS's longest delay)
    freee_settle_seconds: float = Field(default=60.0, ge=0, le=900)
    freee_max_attempts: int = Field(default=5, ge=1, le=20)
    # how long a worker holds a deal while invoicing it; renewed right before each freee write. Longer than
    # freee_timeout_seconds + LEASE_MARGIN_SECONDS, and shorter than the worker Lambda's timeout with a margin
    # (serverless.yml; tests/deploy/test_serverless.py holds the two together)
    invoice_lease_seconds: float = Field(default=90.0, gt=0, le=3600)

    # invoicing rules
    won_stages: WonStageRules = WonStageRules()
    tax: TaxDefaults = TaxDefaults()
    payment_terms_default: str = "month_end_next_month_end"
    invoice_title_pattern: str = "{deal_name}"
    invoice_partner_title: Literal["御中", "様", "(空白)"] = "御中"
    issue_date_source: IssueDateSource = IssueDateSource.CLOSE_DATE
    currency: Literal["JPY"] = "JPY"
    # billing schedules (issue 17): a period is billed on its first day (advance) or its last (arrears); its
    # invoice's subject follows billing_subject_pattern ({period} = 2027年1月分 / 分割 1/3回目)
    billing_timing: Timing = Timing.ADVANCE
    billing_subject_pattern: str = "{period} {deal_name}"
    # a company's month-end consolidated invoice (合算請求): {window} = 2027年1月分 (the closing window)
    consolidated_subject_pattern: str = "{window} ご請求"
    properties: PropertyNames = PropertyNames()

    # payment sync (issue 6): a company's freee_payment_risk is "overdue" when an invoice is more than
    # payment_risk_overdue_grace_days past due, "watch" when one is partially paid, overdue within the grace,
    # or unpaid and due within payment_risk_watch_days; "none" otherwise
    payment_risk_watch_days: int = Field(default=7, ge=0, le=366)
    payment_risk_overdue_grace_days: int = Field(default=0, ge=0, le=366)
    sync_lease_seconds: float = Field(default=900.0, gt=0, le=86400)
    # invoices are listed from freee over billing-date ranges covering the open ones; a stretch of more than
    # this many days without one of them starts a new range (each range costs at most one short page)
    sync_gap_days: int = Field(default=31, ge=0, le=3660)

    # reconciliation sweep (issue 16): won deals closed within the last sweep_lookback_days (and won deals with no
    # close date) are compared with the ledger; a deal the sweep queued is not queued again for sweep_requeue_hours
    sweep_lookback_days: int = Field(default=62, ge=1, le=3660)
    sweep_requeue_hours: float = Field(default=6.0, ge=0, le=720)
    # HubSpot's search endpoints have their own rate (4 a second per token in HubSpot's usage guidelines)
    hubspot_search_per_second: float = Field(default=4.0, gt=0, le=100)

    # storage and logs
    storage_url: str = "sqlite:///hubspot-freee.sqlite"
    # the invoice queue (DESIGN §4): sqlite:///path (embedded) or sqs://queue-name (dead letters in queue-name-dlq)
    queue_url: str = "sqlite:///hubspot-freee.sqlite"
    queue_max_receives: int = Field(default=5, ge=1, le=1000)
    queue_visibility_timeout: float = Field(default=120.0, gt=0, le=43200)
    # while freee is disconnected (refresh token refused), a queued deal is held this long between rechecks,
    # without spending its attempts (at most 900: SQS's longest send delay)
    queue_hold_seconds: float = Field(default=300.0, gt=0, le=900)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("hubspot_api_base", "freee_api_base", "freee_auth_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("http:// か https:// で始めてください / must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("invoice_lease_seconds")
    @classmethod
    def _lease(cls, value: float, info: ValidationInfo) -> float:
        timeout = info.data.get("freee_timeout_seconds")
        if timeout is not None and value <= timeout + LEASE_MARGIN_SECONDS:
            raise ValueError(
                f"must be more than freee_timeout_seconds + {LEASE_MARGIN_SECONDS:g} ({timeout + LEASE_MARGIN_SECONDS:g}):"
                " a freee write is sent only with that much of the lease left"
                f" / freee_timeout_seconds + {LEASE_MARGIN_SECONDS:g} 秒より長くしてください"
            )
        return value

    @field_validator("payment_terms_default")
    @classmethod
    def _terms(cls, value: str) -> str:
        return parse_terms(value).code

    @field_validator("invoice_title_pattern")
    @classmethod
    def _title(cls, value: str) -> str:
        try:
            value.format(deal_name="", deal_id="", company_name="", close_date="", portal_id="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                "使えない差し込み項目があります / unknown placeholder; use {deal_name}, {deal_id}, {company_name},"
                " {close_date}, {portal_id}"
            ) from exc
        return value

    @field_validator("billing_subject_pattern")
    @classmethod
    def _billing_subject(cls, value: str) -> str:
        try:
            value.format(**dict.fromkeys(BILLING_SUBJECT_PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError) as exc:
            names = ", ".join(f"{{{name}}}" for name in BILLING_SUBJECT_PLACEHOLDERS)
            raise ValueError(f"使えない差し込み項目があります / unknown placeholder; use {names}") from exc
        return value

    @field_validator("consolidated_subject_pattern")
    @classmethod
    def _consolidated_subject(cls, value: str) -> str:
        try:
            value.format(**dict.fromkeys(CONSOLIDATED_SUBJECT_PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError) as exc:
            names = ", ".join(f"{{{name}}}" for name in CONSOLIDATED_SUBJECT_PLACEHOLDERS)
            raise ValueError(f"使えない差し込み項目があります / unknown placeholder; use {names}") from exc
        return value

    @field_validator("freee_partner_code_pattern")
    @classmethod
    def _partner_code(cls, value: str) -> str:
        try:
            code = value.format(company_id="1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                "差し込み項目は {company_id} だけです / use {company_id} as the only placeholder, e.g. HS-{company_id}"
            ) from exc
        if "{company_id}" not in value or not code.strip():
            raise ValueError(
                "{company_id} を含めてください / must contain {company_id}, e.g. HS-{company_id}"
            )
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "dynamodb://")):
            raise ValueError(
                "sqlite:///ファイルのパス か dynamodb://テーブル名 です / use sqlite:///path/to/file.sqlite or dynamodb://table-name"
            )
        return value

    @field_validator("queue_url")
    @classmethod
    def _queue(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "sqs://")) or value in ("sqlite:///", "sqs://"):
            raise ValueError(
                "sqlite:///ファイルのパス か sqs://キュー名 です / use sqlite:///path/to/file.sqlite or sqs://queue-name"
            )
        return value

    @model_validator(mode="after")
    def _rate_limit_fits_the_store(self) -> Settings:
        """On DynamoDB the shared rate-limit item keeps the latest ``EXACT_CALLS`` freee call times exactly, in one
        write unit a call (:class:`sdk.freee.ratelimit.CompactCallLog`); a minute allowing more would be counted
        per bucket of a minute, waiting far longer than freee asks. The hour fits at any value."""
        from sdk.freee.ratelimit import EXACT_CALLS  # deferred: settings stay cheap to import

        per_minute = self.freee_rate_limit_per_minute
        if self.storage_url.startswith("dynamodb://") and per_minute > EXACT_CALLS:
            raise ValueError(
                f"freee_rate_limit_per_minute (FREEE_RATE_LIMIT_PER_MINUTE): {per_minute} does not fit the DynamoDB"
                f" store, whose shared rate-limit item keeps the latest {EXACT_CALLS} freee calls exactly; set at"
                f" most {EXACT_CALLS} (freee allows 30 a minute) / DynamoDB では1分あたり {EXACT_CALLS} 回以下に"
                " してください"
            )
        return self

    @property
    def default_terms(self) -> PaymentTerms:
        return parse_terms(self.payment_terms_default)

    @property
    def hubspot_oauth(self) -> bool:
        """True when HubSpot is reached with a public app's OAuth tokens (``hubspot_refresh_token`` is set) rather
        than a private app's static ``hubspot_access_token``."""
        return not _blank(self.hubspot_refresh_token)

    def hubspot_auth_error(self) -> SettingsError:
        """What is missing to authenticate to HubSpot (an empty error when nothing is): a public app needs
        ``hubspot_client_id`` and ``hubspot_client_secret`` with its refresh token, a private app its token."""
        if self.hubspot_oauth:
            return self.missing_error("hubspot_client_id", "hubspot_client_secret")
        if not _blank(self.hubspot_access_token):
            return SettingsError([])
        return SettingsError(
            [
                "hubspot_access_token: missing; set HUBSPOT_ACCESS_TOKEN (a private app's token) or, for a public "
                "app, HUBSPOT_REFRESH_TOKEN with HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET / HubSpot の"
                "アクセストークン（非公開アプリ）またはリフレッシュトークン（公開アプリ）を設定してください"
            ]
        )

    def require(self, *names: str) -> None:
        """Raise ``SettingsError`` naming every setting in ``names`` that has no value."""
        error = self.missing_error(*names)
        if error.problems:
            raise error

    def missing_error(self, *names: str) -> SettingsError:
        """A ``SettingsError`` naming the settings in ``names`` that have no value (none: an empty error)."""
        missing = [name for name in names if _blank(getattr(self, name))]
        return SettingsError(
            [f"{name}: missing; set {env_name(name)} or {name} in the TOML file" for name in missing]
        )

    def missing_developer_credentials(self) -> list[str]:
        """What to set when neither credential of the app's developer account is (workflow action
        definitions): the OAuth access token HubSpot's current reference lists, else the legacy API key."""
        if not (_blank(self.hubspot_developer_access_token) and _blank(self.hubspot_developer_api_key)):
            return []
        return [
            "hubspot_developer_access_token: missing; set HUBSPOT_DEVELOPER_ACCESS_TOKEN (an OAuth access token of "
            "the developer account that owns the app, scopes developers-read and developers-write) or, where "
            "HubSpot still takes it, the developer API key HUBSPOT_DEVELOPER_API_KEY"
        ]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file") or config_path()
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def _blank(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or (isinstance(value, str) and not value.strip())


def env_name(field_path: str) -> str:
    """The environment variable for a setting path such as ``tax.rounding`` → ``TAX__ROUNDING``."""
    return field_path.replace(".", "__").upper()


def config_path() -> Path:
    """The settings file: ``$HUBSPOT_FREEE_CONFIG`` if set, else ``./hubspot-freee.toml`` (optional)."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and check settings; every bad or unreadable value is reported at once as a ``SettingsError``.

    ``config_file`` (or ``$HUBSPOT_FREEE_CONFIG``) names a file that must exist; the default
    ``./hubspot-freee.toml`` is read only when present.
    """
    named = Path(config_file) if config_file is not None else None
    if named is None and os.environ.get(CONFIG_ENV):
        named = config_path()
    if named is not None and not named.is_file():
        raise SettingsError(
            [f"{CONFIG_ENV}: the settings file {named} does not exist / 設定ファイルがありません"]
        )
    cls: type[Settings] = Settings
    if config_file is not None:

        class FromFile(Settings):
            model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": named})

        cls = FromFile
    return _build(cls, overrides)


def _build(cls: type[Settings], overrides: dict[str, Any]) -> Settings:
    secret_ids = os.environ.get(SECRETS_ENV, "").strip()
    values = {**secret_settings(secret_ids), **overrides} if secret_ids else overrides
    try:
        return cls(**values)
    except ValidationError as exc:
        raise SettingsError(
            [_describe(error) for error in exc.errors(include_url=False, include_input=False)]
        ) from None
    except ValueError as exc:  # an environment value that is not JSON, or a TOML file that does not parse
        unreadable = re.search(
            r'error parsing value for field "(\w+)" from source "EnvSettingsSource"', str(exc)
        )
        if unreadable:
            name = unreadable.group(1)
            raise SettingsError(
                [
                    f"{name} ({env_name(name)}__…): 環境変数の値をJSONとして読めません（例: "
                    f"WON_STAGES__PIPELINES='[\"default\"]'） / an environment value is not valid JSON "
                    f"(e.g. WON_STAGES__PIPELINES='[\"default\"]')"
                ]
            ) from None
        raise SettingsError([f"{config_path()}: {exc}"]) from None


def _describe(error: Any) -> str:
    """One bad setting in the operator's words (ja + en). The value given is never repeated: a secret pasted into
    the wrong variable would end up in a log."""
    path = ".".join(str(part) for part in error["loc"])
    message = _words(error)
    return f"{path} ({env_name(path)}): {message}" if path else message  # no path: it names its settings


def _words(error: Any) -> str:
    """pydantic's error types, said for a person; our own validators' messages (bilingual already) as they are."""
    kind, ctx = str(error["type"]), error.get("ctx") or {}
    said: dict[str, str] = {
        "int_parsing": "整数で指定してください / must be a whole number",
        "int_type": "整数で指定してください / must be a whole number",
        "int_from_float": "整数で指定してください / must be a whole number",
        "float_parsing": "数値で指定してください / must be a number",
        "float_type": "数値で指定してください / must be a number",
        "bool_parsing": "true か false で指定してください / must be true or false",
        "bool_type": "true か false で指定してください / must be true or false",
        "missing": "必須です / is required",
        "list_type": 'JSONのリストで指定してください（例: ["123"]） / must be a JSON list such as ["123"]',
        "json_invalid": 'JSONとして読めません（例: ["123"]） / is not valid JSON (e.g. ["123"])',
        "string_type": "文字列で指定してください / must be text",
    }
    if kind in said:
        return said[kind]
    bounds = {
        "greater_than_equal": ("ge", "以上にしてください", "must be at least"),
        "greater_than": ("gt", "より大きくしてください", "must be more than"),
        "less_than_equal": ("le", "以下にしてください", "must be at most"),
        "less_than": ("lt", "未満にしてください", "must be less than"),
    }
    if kind in bounds:
        key, ja, en = bounds[kind]
        return f"{ctx.get(key)}{ja} / {en} {ctx.get(key)}"
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return f"次のいずれかで指定してください: {expected} / must be one of {expected}"
    return str(error["msg"]).removeprefix("Value error, ")


def secret_settings(secret_ids: str) -> dict[str, Any]:
    """The settings held in the Secrets Manager secrets named by ``secret_ids`` (comma-separated names or ARNs),
    keyed by field name. Raises ``SettingsError`` naming each bad key or unreadable secret (never a value)."""
    from aws_lambda_powertools.utilities import parameters  # deferred: boto3 only when secrets are used

    environment = {name.lower() for name in os.environ}
    values: dict[str, Any] = {}
    owner: dict[str, str] = {}
    problems: list[str] = []
    for secret_id in filter(None, (part.strip() for part in secret_ids.split(","))):
        where = f"{SECRETS_ENV}: secret {secret_id!r}"
        try:
            raw = parameters.get_secret(secret_id, max_age=SECRETS_MAX_AGE_SECONDS)
        except parameters.exceptions.GetParameterError as exc:
            problems.append(f"{where} could not be read ({exc}); check its name and the function's role")
            continue
        data = _json_object(raw)
        if data is None:
            problems.append(f'{where} is not a JSON object like {{"HUBSPOT_ACCESS_TOKEN": "..."}}')
            continue
        for key, value in data.items():
            name = key.lower()
            if name not in Settings.model_fields:
                problems.append(f"{where}: {key} is not a setting (a typo?)")
            elif not isinstance(value, str | int | float | bool):
                problems.append(f"{where}: {key} must be a string or a number")
            elif name in environment:
                problems.append(f"{where}: {key} is also set in the environment; remove one of them")
            elif name in owner:
                problems.append(f"{where}: {key} is also in secret {owner[name]!r}; keep it in one")
            else:
                values[name], owner[name] = value, secret_id
    if problems:
        raise SettingsError(problems)
    return values


def _json_object(raw: str | bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
