import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import functions
import sdk
import webhooks
from sdk.errors import HubSpotFreeeError, Problem, Retryable, SettingsError, ValidationFailed


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


def _our_modules() -> list[ModuleType]:
    """Every module of sdk, functions and webhooks, and the snippet runner of workflows (its snippets are
    standalone Python 3.9 files, not ours to import)."""
    modules = [importlib.import_module("workflows.runner")]
    for package in (sdk, functions, webhooks):
        modules.append(package)
        for found in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            modules.append(importlib.import_module(found.name))
    return modules


def test_every_exception_class_of_ours_derives_from_the_one_base():
    defined = {
        f"{module.__name__}.{name}": cls
        for module in _our_modules()
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == module.__name__
    }
    assert len(defined) > 30  # the walk found the modules (sdk.errors alone defines more than a dozen)
    strays = sorted(name for name, cls in defined.items() if not issubclass(cls, HubSpotFreeeError))
    assert strays == [], f"derive these from sdk.errors.HubSpotFreeeError: {strays}"
