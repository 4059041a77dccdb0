import pytest

from sdk.errors import SettingsError
from sdk.money import Rounding
from sdk.settings import CONFIG_ENV, load_settings
from sdk.tax import TaxEntryMethod, TaxRate
from sdk.terms import IssueDateSource


def test_defaults_need_no_configuration():
    settings = load_settings()
    assert settings.tax.rate is TaxRate.STANDARD_10
    assert settings.tax.entry_method is TaxEntryMethod.EXCLUSIVE
    assert settings.tax.rounding is Rounding.FLOOR
    assert settings.payment_terms_default == "month_end_next_month_end"
    assert settings.freee_api_base == "https://api.freee.co.jp"
    assert settings.properties.deal_invoice_id == "freee_invoice_id"


def test_environment_overrides_the_toml_file(tmp_path, monkeypatch):
    config = tmp_path / "hubspot-freee.toml"
    config.write_text(
        'freee_company_id = 111\nhubspot_api_base = "http://127.0.0.1:9999/"\n'
        '[tax]\nrounding = "round"\nentry_method = "in"\n[properties]\ndeal_invoice_id = "inv_id"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("FREEE_COMPANY_ID", "222")
    monkeypatch.setenv("TAX__RATE", "8_reduced")
    settings = load_settings()
    assert settings.freee_company_id == 222  # environment first
    assert settings.tax.rate is TaxRate.REDUCED_8
    assert settings.tax.rounding is Rounding.ROUND  # then the file
    assert settings.tax.entry_method is TaxEntryMethod.INCLUSIVE
    assert settings.hubspot_api_base == "http://127.0.0.1:9999"  # base URLs lose their trailing slash
    assert settings.properties.deal_invoice_id == "inv_id"
    assert settings.properties.deal_sync_status == "freee_sync_status"


def test_config_file_argument(tmp_path):
    config = tmp_path / "other.toml"
    config.write_text('issue_date_source = "today"\n', encoding="utf-8")
    assert load_settings(config).issue_date_source is IssueDateSource.TODAY
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_a_settings_file_named_in_the_environment_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "typo.toml"))
    with pytest.raises(SettingsError, match=r"HUBSPOT_FREEE_CONFIG.*typo\.toml"):
        load_settings()


def test_the_default_settings_file_is_read_from_the_working_directory(tmp_path):
    (tmp_path / "hubspot-freee.toml").write_text("freee_company_id = 5\n", encoding="utf-8")
    assert load_settings().freee_company_id == 5  # conftest made tmp_path the working directory


def test_every_bad_setting_is_named_at_once_with_its_variable(monkeypatch):
    monkeypatch.setenv("TAX__ROUNDING", "bankers")
    monkeypatch.setenv("FREEE_COMPANY_ID", "abc")
    monkeypatch.setenv("PAYMENT_TERMS_DEFAULT", "翌月40日")
    monkeypatch.setenv("FREEE_API_BASE", "ftp://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert len(caught.value.problems) == 4
    for fragment in ("TAX__ROUNDING", "FREEE_COMPANY_ID", "PAYMENT_TERMS_DEFAULT", "FREEE_API_BASE", "floor"):
        assert fragment in text
    assert "pay day 40 is not 1-31" in text and "支払日40日は使えません" in text  # why, in both languages
    assert "Traceback" not in text


def test_bad_values_are_explained_in_the_operators_words_not_pydantics(monkeypatch):
    monkeypatch.setenv("HUBSPOT_PORTAL_ID", "abc")
    monkeypatch.setenv("FREEE_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("TAX__RATE", "9")
    monkeypatch.setenv("FREEE_USE_PARTNER_CODES", "maybe")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    problems = caught.value.problems
    assert problems == [
        "hubspot_portal_id (HUBSPOT_PORTAL_ID): 整数で指定してください / must be a whole number",
        "freee_use_partner_codes (FREEE_USE_PARTNER_CODES): true か false で指定してください / must be true or false",
        "freee_rate_limit_per_minute (FREEE_RATE_LIMIT_PER_MINUTE): 1以上にしてください / must be at least 1",
        "tax.rate (TAX__RATE): 次のいずれかで指定してください: '10', '8_reduced', '0' or 'exempt' / must be one of "
        "'10', '8_reduced', '0' or 'exempt'",
    ]
    assert "Input should" not in str(caught.value)


def test_an_environment_value_that_is_not_json_names_its_setting(monkeypatch):
    monkeypatch.setenv("WON_STAGES__PIPELINES", "default")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    [problem] = caught.value.problems
    assert (
        problem.startswith("won_stages (WON_STAGES__…)")
        and "JSON" in problem
        and "hubspot-freee.toml" not in problem
    )


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("翌月末", "month_end_next_month_end"),
        ("20日締め 翌月10日払い", "close_20_next_month_day_10"),
        ("NET30", "net_30"),
    ],
)
def test_default_payment_terms_may_be_written_in_japanese_and_are_kept_as_their_code(
    monkeypatch, written, code
):
    monkeypatch.setenv("PAYMENT_TERMS_DEFAULT", written)
    settings = load_settings()
    assert settings.payment_terms_default == code
    assert settings.default_terms.code == code


def test_a_toml_file_that_does_not_parse_is_a_settings_error(tmp_path, monkeypatch):
    config = tmp_path / "broken.toml"
    config.write_text("freee_company_id = = 1\n", encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    with pytest.raises(SettingsError, match=r"broken\.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("INVOICE_TITLE_PATTERN", "{deal}", "placeholder"),
        ("FREEE_PARTNER_CODE_PATTERN", "HS-fixed", "{company_id}"),
        ("FREEE_PARTNER_CODE_PATTERN", "{other}", "{company_id}"),
        ("STORAGE_URL", "postgres://x", "sqlite:///"),
        ("INVOICE_PARTNER_TITLE", "殿", "INVOICE_PARTNER_TITLE"),
    ],
)
def test_bad_patterns_are_refused(monkeypatch, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        load_settings()


def test_secrets_never_print(monkeypatch):
    monkeypatch.setenv("FREEE_CLIENT_SECRET", "canary-freee-secret")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "canary-hubspot-token")
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "canary-hubspot-secret")
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "canary" not in shown
    assert settings.freee_client_secret.get_secret_value() == "canary-freee-secret"


def test_secret_in_a_bad_setting_is_not_echoed(monkeypatch):
    monkeypatch.setenv("FREEE_COMPANY_ID", "canary-secret-value")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "canary" not in str(caught.value)


def test_require_names_each_missing_setting():
    settings = load_settings()
    with pytest.raises(SettingsError) as caught:
        settings.require("freee_company_id", "hubspot_access_token", "freee_api_base")
    assert [p.split(":")[0] for p in caught.value.problems] == ["freee_company_id", "hubspot_access_token"]
    assert "FREEE_COMPANY_ID" in str(caught.value)
    load_settings(freee_company_id=1).require("freee_company_id")  # present: no error


def test_won_stage_rules_from_the_environment(monkeypatch):
    monkeypatch.setenv("WON_STAGES__EXTRA_STAGE_IDS", '["123456"]')
    monkeypatch.setenv("WON_STAGES__PIPELINES", '["default"]')
    settings = load_settings()
    assert settings.won_stages.extra_stage_ids == ("123456",)
    assert settings.won_stages.pipelines == ("default",)
    assert settings.won_stages.use_metadata is True


def test_a_minute_rate_limit_the_dynamodb_item_cannot_keep_exactly_is_refused_at_load(monkeypatch):
    from sdk.freee.ratelimit import EXACT_CALLS

    monkeypatch.setenv("STORAGE_URL", "dynamodb://hubspot-freee-prod")
    monkeypatch.setenv("FREEE_RATE_LIMIT_PER_MINUTE", str(EXACT_CALLS + 1))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    [problem] = caught.value.problems
    assert problem.startswith(
        f"freee_rate_limit_per_minute (FREEE_RATE_LIMIT_PER_MINUTE): {EXACT_CALLS + 1} "
    )
    assert f"set at most {EXACT_CALLS}" in problem


def test_every_hourly_rate_limit_fits_and_sqlite_keeps_any_minute(monkeypatch):
    from sdk.freee.ratelimit import EXACT_CALLS

    on_aws = load_settings(
        storage_url="dynamodb://t", freee_rate_limit_per_minute=EXACT_CALLS, freee_rate_limit_per_hour=10**9
    )
    assert (on_aws.freee_rate_limit_per_minute, on_aws.freee_rate_limit_per_hour) == (EXACT_CALLS, 10**9)
    assert load_settings(freee_rate_limit_per_minute=10 * EXACT_CALLS).freee_rate_limit_per_minute == 640
