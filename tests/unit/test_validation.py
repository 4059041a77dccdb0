from datetime import date
from decimal import Decimal

import pytest

from sdk.errors import ValidationFailed
from sdk.settings import load_settings
from sdk.tax import TaxRate
from sdk.terms import parse_terms
from sdk.validation import registration_number_is_valid, validate_deal
from tests.conftest import TODAY
from tests.factories import VALID_REGISTRATION, bundle, company, contact, line_item


def problems_of(deal, settings):
    with pytest.raises(ValidationFailed) as caught:
        validate_deal(deal, settings, today=TODAY)
    return caught.value


def codes_of(deal, settings):
    return problems_of(deal, settings).codes


def test_valid_deal_becomes_a_draft_with_lines_tax_and_dates(settings):
    deal = bundle(
        line_item("会計ソフト導入支援", quantity=2, price=150000),
        line_item("研修用お弁当", quantity=20, price=1080, freee_tax_rate="8_reduced"),
        company_=company(freee_invoice_registration_number=VALID_REGISTRATION, freee_payment_terms="net_30"),
        contact_=contact(),
        closedate="2026-11-20T03:00:00Z",
    )
    draft = validate_deal(deal, settings, today=TODAY)
    assert [(line.description, line.amount, line.rate) for line in draft.lines] == [
        ("会計ソフト導入支援", 300000, TaxRate.STANDARD_10),
        ("研修用お弁当", 21600, TaxRate.REDUCED_8),
    ]
    assert (draft.tax.net, draft.tax.tax, draft.tax.gross) == (321600, 31728, 353328)
    assert draft.billing_date == date(2026, 11, 20)
    assert draft.due_date == date(2026, 12, 20)
    assert draft.registration_number == VALID_REGISTRATION
    assert draft.contact_name == "山田 太郎"
    assert draft.subject == "【受注】会計導入支援"
    assert draft.warnings == ()


def test_deal_without_line_items_is_one_line_of_the_deal_amount(settings):
    draft = validate_deal(bundle(amount="330000", name="月次顧問契約"), settings, today=TODAY)
    assert len(draft.lines) == 1
    line = draft.lines[0]
    assert (line.description, line.quantity, line.unit_price, line.amount) == (
        "月次顧問契約",
        1,
        330000,
        330000,
    )
    assert line.rate is TaxRate.STANDARD_10
    assert draft.tax.gross == 363000


def test_every_problem_is_reported_at_once_not_only_the_first(settings):
    deal = bundle(
        line_item("A", quantity="0", price="100", freee_tax_rate="8"),
        line_item("B", quantity="1", price="-5"),
        name=None,
        closedate=None,
        deal_currency_code="USD",
        company_=company(freee_invoice_registration_number="T1234567890123", freee_payment_terms="手形120日"),
    )
    failure = problems_of(deal, settings)
    assert sorted(failure.codes) == sorted(
        [
            "deal.name_missing",
            "deal.currency_not_jpy",
            "deal.close_date_missing",
            "company.payment_terms_invalid",
            "company.registration_number_invalid",
            "line_item.tax_rate_unknown",
            "line_item.quantity_invalid",
            "line_item.price_negative",
        ]
    )
    for problem in failure.problems:
        assert problem.ja and problem.en and problem.field
        assert problem.ja != problem.en
    assert "[deal.currency_not_jpy]" in failure.summary()


def test_no_associated_company(settings):
    failure = problems_of(bundle(amount=1000, company_=None), settings)
    assert failure.codes == ["deal.company_missing"]
    assert "会社" in failure.problems[0].ja
    assert "company" in failure.problems[0].en


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (None, "deal.amount_missing"),
        ("abc", "deal.amount_invalid"),
        ("-50000", "deal.amount_negative"),
        ("1000.5", "deal.amount_not_integer"),
        ("0", "invoice.total_zero"),
        ("1000000000000", "invoice.total_too_large"),
    ],
)
def test_deal_amount_rules(settings, amount, code):
    assert codes_of(bundle(amount=amount), settings) == [code]


def test_total_over_freee_limit_from_line_items(settings):
    deal = bundle(line_item("大型設備", quantity=1000, price="999999999999"))
    assert codes_of(deal, settings) == ["invoice.total_too_large"]


def test_all_zero_line_items_total_zero(settings):
    assert codes_of(bundle(line_item("無償サポート", quantity=1, price=0)), settings) == [
        "invoice.total_zero"
    ]


def test_currency_other_than_jpy_on_a_line(settings):
    deal = bundle(line_item(hs_line_item_currency_code="EUR"))
    assert codes_of(deal, settings) == ["line_item.currency_not_jpy"]
    assert validate_deal(
        bundle(line_item(hs_line_item_currency_code="jpy"), deal_currency_code="JPY"), settings, today=TODAY
    )


@pytest.mark.parametrize(
    ("quantity", "price", "code"),
    [
        (None, 100, "line_item.quantity_invalid"),
        ("x", 100, "line_item.quantity_invalid"),
        ("-1", 100, "line_item.quantity_invalid"),
        ("1.2345", 100, "line_item.quantity_invalid"),
        ("100000000", 100, "line_item.quantity_invalid"),
        (1, None, "line_item.price_invalid"),
        (1, "1.0001", "line_item.price_invalid"),
        (1, "10000000000000", "line_item.price_invalid"),
        (1, "-1", "line_item.price_negative"),
    ],
)
def test_line_number_rules(settings, quantity, price, code):
    assert codes_of(bundle(line_item(quantity=quantity, price=price)), settings) == [code]


def test_decimal_quantities_and_prices_without_float_error(settings):
    # 1.5 man-months × 800,000; 3 × 0.1 yen; 2.5 h × 12,345.5 = 30,863.75 → floor 30,863
    deal = bundle(
        line_item("開発支援", quantity="1.5", price="800000"),
        line_item("API従量課金", quantity="3", price="0.1"),
        line_item("追加研修", quantity="2.5", price="12345.5"),
    )
    draft = validate_deal(deal, settings, today=TODAY)
    assert [line.amount for line in draft.lines] == [1200000, 0, 30863]
    assert draft.lines[2].quantity == Decimal("2.5")


def test_percentage_discount_becomes_a_discount_line_at_the_same_rate(settings):
    deal = bundle(
        line_item(
            "年間ライセンス", quantity=50, price=12000, hs_discount_percentage="15", freee_tax_rate="10"
        )
    )
    draft = validate_deal(deal, settings, today=TODAY)
    item, discount = draft.lines
    assert (item.amount, discount.amount) == (600000, -90000)
    assert discount.kind == "discount"
    assert discount.rate is item.rate
    assert discount.description == "値引き（年間ライセンス）"
    assert draft.tax.net == 510000


def test_per_unit_discount_is_multiplied_by_the_quantity(settings):
    draft = validate_deal(
        bundle(line_item("ノートPC", quantity=12, price=180000, discount="8000")), settings, today=TODAY
    )
    assert [line.amount for line in draft.lines] == [2160000, -96000]


@pytest.mark.parametrize(
    "props",
    [
        {"hs_discount_percentage": "120"},
        {"hs_discount_percentage": "abc"},
        {"discount": "-1"},
        {"discount": "20000"},  # more than the unit price
        {"discount": "100", "hs_discount_percentage": "5"},
    ],
)
def test_bad_discounts(settings, props):
    assert codes_of(bundle(line_item("品目", quantity=1, price=10000, **props)), settings) == [
        "line_item.discount_invalid"
    ]


def test_zero_discount_adds_no_line(settings):
    draft = validate_deal(bundle(line_item(hs_discount_percentage="0")), settings, today=TODAY)
    assert len(draft.lines) == 1


def test_line_items_keep_the_reps_order(settings):
    deal = bundle(
        line_item("三番目", hs_position_on_quote="2"),
        line_item("一番目", hs_position_on_quote="0"),
        line_item("位置なし"),
        line_item("二番目", hs_position_on_quote="1"),
    )
    draft = validate_deal(deal, settings, today=TODAY)
    assert [line.description for line in draft.lines] == ["一番目", "二番目", "三番目", "位置なし"]


def test_default_tax_rate_comes_from_settings():
    settings = load_settings(tax={"rate": "8_reduced"})
    draft = validate_deal(bundle(line_item("お茶")), settings, today=TODAY)
    assert draft.lines[0].rate is TaxRate.REDUCED_8


def test_too_many_lines_for_freee():
    settings = load_settings(freee_max_lines=3)
    deal = bundle(
        *(line_item(f"品目{i}") for i in range(2)), line_item("割引品", hs_discount_percentage="10")
    )
    failure = problems_of(deal, settings)
    assert failure.codes == ["invoice.too_many_lines"]
    assert "4" in failure.problems[0].en


def test_ten_thousand_line_items_are_refused_not_processed_for_ever(settings):
    deal = bundle(*(line_item(f"品目{i}", quantity=1, price=1) for i in range(10_000)))
    assert codes_of(deal, settings) == ["invoice.too_many_lines"]


def test_text_over_freee_limits(settings):
    deal = bundle(line_item("あ" * 256), name="い" * 256, company_=company("う" * 256))
    failure = problems_of(deal, settings)
    assert failure.codes == ["text.too_long"] * 3
    assert {p.field for p in failure.problems} == {"dealname", "company.name", "line_items[0].name"}


def test_title_pattern_can_push_the_subject_over_the_limit():
    settings = load_settings(invoice_title_pattern="{company_name} {deal_name}")
    deal = bundle(line_item(), name="い" * 200, company_=company("う" * 100))
    assert codes_of(deal, settings) == ["text.too_long"]


def test_control_characters_are_refused_but_emoji_are_fine(settings):
    assert codes_of(bundle(line_item("改行\nあり")), settings) == ["text.control_characters"]
    draft = validate_deal(bundle(line_item("🎉 イベント運営")), settings, today=TODAY)
    assert draft.lines[0].description == "🎉 イベント運営"


def test_close_date_rules(settings):
    assert codes_of(bundle(line_item(), closedate=None), settings) == ["deal.close_date_missing"]
    assert codes_of(bundle(line_item(), closedate="someday"), settings) == ["deal.close_date_invalid"]


def test_billing_date_from_today_needs_no_close_date():
    settings = load_settings(issue_date_source="today")
    draft = validate_deal(bundle(line_item(), closedate=None), settings, today=date(2026, 12, 3))
    assert draft.billing_date == date(2026, 12, 3)
    assert draft.due_date == date(2027, 1, 31)


def test_amount_mismatch_is_a_warning_not_an_error(settings):
    draft = validate_deal(bundle(line_item(quantity=1, price=1000), amount="999"), settings, today=TODAY)
    assert [w.code for w in draft.warnings] == ["deal.amount_mismatch"]
    assert (
        validate_deal(
            bundle(line_item(quantity=1, price=1000), amount="1000"), settings, today=TODAY
        ).warnings
        == ()
    )


def test_company_without_name(settings):
    assert codes_of(bundle(line_item(), company_=company(None)), settings) == ["company.name_missing"]


def test_long_contact_fields(settings):
    deal = bundle(line_item(), contact_=contact(lastname="山" * 300, email="x" * 300 + "@example.jp"))
    failure = problems_of(deal, settings)
    assert {p.field for p in failure.problems} == {"contact.name", "contact.email"}


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("T7000012050002", True),  # 国税庁
        ("T1000012050002", False),  # wrong check digit
        ("T0000012050002", False),  # check digit 0 does not exist
        ("7000012050002", False),  # no T
        ("T700001205000", False),  # 12 digits
        ("T70000120500021", False),  # 14 digits
        ("T70000120500O2", False),  # letter O
    ],
)
def test_registration_number_check_digit(number, valid):
    assert registration_number_is_valid(number) is valid


def test_registration_number_is_normalised_to_upper_case(settings):
    draft = validate_deal(
        bundle(line_item(), company_=company(freee_invoice_registration_number=" t7000012050002 ")),
        settings,
        today=TODAY,
    )
    assert draft.registration_number == "T7000012050002"


@pytest.mark.parametrize(
    ("terms", "due"),
    [
        ("20日締め翌月10日払い", date(2026, 12, 10)),  # billed 11-20: closes 11-20
        ("翌月末", date(2026, 12, 31)),
        ("末締め翌々月末払い", date(2027, 1, 31)),
        ("請求後３０日以内", date(2026, 12, 20)),
        ("close_15_next_month_end", date(2027, 1, 31)),  # billed 11-20: closes 12-15
    ],
)
def test_the_companys_written_payment_terms_give_the_due_date(settings, terms, due):
    deal = bundle(line_item(), company_=company(freee_payment_terms=terms), closedate="2026-11-20T03:00:00Z")
    draft = validate_deal(deal, settings, today=TODAY)
    assert draft.due_date == due
    assert draft.terms.code == parse_terms(terms).code


def test_unreadable_payment_terms_say_why_and_what_is_accepted_in_both_languages(settings):
    failure = problems_of(bundle(line_item(), company_=company(freee_payment_terms="翌月40日払い")), settings)
    [problem] = failure.problems
    assert problem.code == "company.payment_terms_invalid"
    assert problem.field == "company.freee_payment_terms"
    assert (
        "翌月40日払い" in problem.ja
        and "支払日40日は使えません" in problem.ja
        and "20日締め翌月10日払い" in problem.ja
    )
    assert "pay day 40 is not 1-31" in problem.en and "close_N_next_month_day_D" in problem.en


def test_property_names_come_from_settings():
    settings = load_settings(properties={"line_item_tax_rate": "my_tax", "company_payment_terms": "my_terms"})
    deal = bundle(line_item(my_tax="0", freee_tax_rate="bogus"), company_=company(my_terms="net_10"))
    draft = validate_deal(deal, settings, today=TODAY)
    assert draft.lines[0].rate is TaxRate.ZERO
    assert draft.due_date == date(2026, 11, 30)
