import pytest

from sdk.errors import Problem, Retryable, SettingsError, ValidationFailed


def test_validation_failed_carries_every_problem_in_both_languages():
    problems = [
        Problem("deal.company_missing", "associations.company", "会社がありません。", "No company."),
        Problem("deal.amount_missing", "amount", "金額がありません。", "No amount."),
    ]
    failure = ValidationFailed(problems)
    assert failure.codes == ["deal.company_missing", "deal.amount_missing"]
    assert failure.summary().splitlines() == [
        "[deal.company_missing] 会社がありません。 / No company.",
        "[deal.amount_missing] 金額がありません。 / No amount.",
    ]
    assert problems[0].as_dict() == {
        "code": "deal.company_missing",
        "field": "associations.company",
        "ja": "会社がありません。",
        "en": "No company.",
    }


def test_validation_failed_without_a_problem_is_a_bug():
    with pytest.raises(ValueError, match="at least one problem"):
        ValidationFailed([])


def test_settings_error_lists_each_problem():
    error = SettingsError(["a: missing", "b: bad"])
    assert str(error).splitlines()[1:] == ["  - a: missing", "  - b: bad"]


def test_retryable_keeps_its_delay_hint():
    assert Retryable("429", retry_after=2.5).retry_after == 2.5
