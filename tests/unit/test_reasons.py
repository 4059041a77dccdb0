"""Every failure kind in a rep's words (``sdk.usecases.reasons``): a stable code, Japanese and English, no exception
name, method or path, and a retry promised only where the failure is retried."""

from __future__ import annotations

import pytest

from sdk.errors import ClaimLost, DealBusy, LeaseLost, LeaseTooShort, Retryable, SettingsError
from sdk.freee.errors import (
    FreeeAuthError,
    FreeeDisconnected,
    FreeeError,
    FreeeNotFound,
    FreeeOutcomeUnknown,
    FreeeRateLimited,
    FreeeServerError,
    FreeeUnavailable,
    FreeeValidationError,
)
from sdk.hubspot.errors import HubSpotAuthError, HubSpotNotFound, HubSpotRequestError, HubSpotRetryable
from sdk.usecases.reasons import failed_reason, gave_up_reason, reason_for, retrying_reason

CASES: list[tuple[BaseException, str]] = [
    (FreeeDisconnected("invalid_grant"), "freee.disconnected"),
    (FreeeAuthError("freee denied POST /iv/invoices (403)", status=403), "freee.access_denied"),
    (FreeeRateLimited("freee rate limit reached", status=429), "freee.rate_limited"),
    (FreeeServerError("freee answered 503 to POST /iv/invoices", status=503), "freee.unavailable"),
    (FreeeUnavailable("freee unreachable for GET /api/1/partners: ConnectionError"), "freee.unavailable"),
    (FreeeOutcomeUnknown("no answer from freee for POST /iv/invoices (ReadTimeout)"), "freee.no_answer"),
    (FreeeValidationError("freee refused POST /iv/invoices", status=400), "freee.refused"),
    (FreeeNotFound("not found in freee: GET /api/1/partners/7", status=404), "freee.not_found"),
    (FreeeError("freee answered 418 to GET /api/1/deals", status=418), "freee.error"),
    (HubSpotRetryable("503 on deals.read", status=503, operation="deals.read"), "hubspot.unavailable"),
    (HubSpotAuthError("401 on deals.read", status=401, operation="deals.read"), "hubspot.access_denied"),
    (HubSpotNotFound("404 on companies.read", operation="companies.read"), "hubspot.not_found"),
    (HubSpotRequestError("400 on deals.batch_update", status=400, operation="x"), "hubspot.refused"),
    (DealBusy("deal 1 is being invoiced by another worker"), "deal.busy"),
    (LeaseLost("deal 1: another attempt took the deal over"), "deal.busy"),
    (ClaimLost("deal 1: the claim passed to another worker"), "deal.busy"),
    (SettingsError(["FREEE_CLIENT_ID is missing"]), "settings.invalid"),
    (LeaseTooShort("0.5s of the lease left"), "service.unavailable"),
    (Retryable("HubSpot answered 503"), "service.unavailable"),
    (KeyError("invoice_number"), "internal.unexpected"),
    (RuntimeError("Traceback (most recent call last): ..."), "internal.unexpected"),
]


@pytest.mark.parametrize(("error", "code"), CASES, ids=[c for _, c in CASES])
def test_each_failure_has_its_code_and_words_without_the_exception(error: BaseException, code: str) -> None:
    for reason in (
        reason_for(error),
        failed_reason(error),
        retrying_reason(2, error),
        gave_up_reason(5, error),
    ):
        assert reason.code == code
        text = reason.line()
        assert type(error).__name__ not in text
        assert not any(
            fragment in text for fragment in ("POST /", "GET /", "Traceback", "503", "403", "(418")
        )
        assert reason.ja and reason.en and reason.ja != reason.en


def test_freee_s_own_reasons_for_refusing_an_invoice_are_quoted_and_kept_short() -> None:
    said = FreeeValidationError(
        "freee refused POST /iv/invoices", status=400, messages=["請求日は必須です", "x" * 500]
    )
    reason = reason_for(said)
    assert reason.ja.startswith("freeeが請求書を受け付けませんでした: 請求日は必須です; ")
    assert len(reason.ja) < 400 and reason.ja.endswith("…")


def test_a_retry_is_promised_only_for_a_transient_failure() -> None:
    assert "retried automatically" in failed_reason(FreeeServerError("503", status=503)).en
    assert "retried" not in failed_reason(FreeeAuthError("403", status=403)).en
    assert "retried" not in failed_reason(KeyError("x")).en
    assert "reconnects" in failed_reason(FreeeDisconnected("invalid_grant")).en
