"""Why a deal has no invoice yet, in words a sales rep can act on (ja + en): what the deal's ``freee_sync_error``,
the workflow action's ``error_message`` and the balance card say when an attempt failed.

:func:`reason_for` maps every failure once, by kind: freee disconnected, freee refusing our access, freee's rate
limit, freee down or unreachable, a write whose answer was lost, freee refusing the invoice, HubSpot failing, the
deal busy with another attempt, the configuration, and anything unexpected. The words never carry an exception's
class name, an HTTP method and path or a traceback: those go to the log and the ledger's ``last_error``, for the
operator. freee's own messages (why it refused an invoice) are quoted: they are about the deal's data.

:func:`failed_reason`, :func:`retrying_reason` and :func:`gave_up_reason` are the three moments a failure is shown:
the attempt itself failed, the worker will try again, the worker gave up (the message goes to the dead-letter
queue).
"""

from __future__ import annotations

from sdk.errors import ClaimLost, DealBusy, Problem, Retryable, SettingsError
from sdk.freee.errors import (
    SETUP_FREEE,
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

REPLAY_COMMAND = "hubspot-freee dlq redrive"
SHOW_COMMAND = "hubspot-freee invoice show --deal <id>"
QUOTED_LIMIT = 300  # how much of freee's own messages a reason quotes

DISCONNECTED = Problem(
    "freee.disconnected",
    "freee",
    f"freee接続が切れています。運用担当者が `{SETUP_FREEE}` で再接続すると、自動で請求書を作成します。",
    f"The freee connection is lost. Once an operator reconnects with `{SETUP_FREEE}`, the invoice is created"
    " automatically.",
)


def for_the_log(error: BaseException) -> str:
    """An exception as the operator reads it (the log, the history, the ledger's ``last_error``), never a rep."""
    return f"{error.__class__.__name__}: {error}"


def reason_for(error: BaseException) -> Problem:
    """What stopped the invoice, as a rep reads it (no promise of a retry: the caller adds it where it holds)."""
    if isinstance(error, FreeeDisconnected):
        return DISCONNECTED
    if isinstance(error, FreeeError):
        return _freee(error)
    if isinstance(error, HubSpotRetryable):
        return Problem(
            "hubspot.unavailable",
            "hubspot",
            "HubSpotが一時的に応答しませんでした。",
            "HubSpot did not answer for a moment.",
        )
    if isinstance(error, HubSpotAuthError):
        return Problem(
            "hubspot.access_denied",
            "hubspot",
            "HubSpotへのアクセスが拒否されました。運用担当者が非公開アプリのトークンと権限を確認してください。",
            "HubSpot refused our access: an operator must check the private app's token and scopes.",
        )
    if isinstance(error, HubSpotNotFound):
        return Problem(
            "hubspot.not_found",
            "hubspot",
            "請求に必要なHubSpotのレコード（取引、会社、明細）が見つかりませんでした。削除されていないか確認してください。",
            "A HubSpot record the invoice needs (the deal, its company or line items) was not found; check that"
            " it was not deleted.",
        )
    if isinstance(error, HubSpotRequestError):
        return Problem(
            "hubspot.refused",
            "hubspot",
            f"HubSpotが要求を受け付けませんでした。運用担当者がログで詳細を確認できます（`{SHOW_COMMAND}`）。",
            f"HubSpot refused a request; an operator can see why in the log (`{SHOW_COMMAND}`).",
        )
    if isinstance(error, DealBusy | ClaimLost):
        return Problem(
            "deal.busy",
            "deal",
            "別の処理がこの取引の請求書を作成中です。",
            "Another attempt is creating this deal's invoice right now.",
        )
    if isinstance(error, SettingsError):
        return Problem(
            "settings.invalid",
            "settings",
            "hubspot-freeeの設定に問題があります。運用担当者が `hubspot-freee doctor` で確認してください。",
            "hubspot-freee is not configured correctly: an operator must check it with `hubspot-freee doctor`.",
        )
    if isinstance(error, Retryable):
        return Problem(
            "service.unavailable",
            "invoice",
            "一時的なエラーが発生しました。",
            "A temporary error occurred.",
        )
    return Problem(
        "internal.unexpected",
        "invoice",
        f"予期しないエラーが発生しました。運用担当者がログで詳細を確認できます（`{SHOW_COMMAND}`）。",
        f"An unexpected error occurred; an operator can see the details in the log (`{SHOW_COMMAND}`).",
    )


def _freee(error: FreeeError) -> Problem:
    if isinstance(error, FreeeAuthError):
        return Problem(
            "freee.access_denied",
            "freee",
            "freeeへのアクセスが拒否されました。運用担当者がfreeeアプリの権限と接続を `hubspot-freee doctor` で確認して"
            "ください。",
            "freee refused our access: an operator must check the freee app's permissions and connection with"
            " `hubspot-freee doctor`.",
        )
    if isinstance(error, FreeeRateLimited):
        return Problem(
            "freee.rate_limited",
            "freee",
            "freeeのAPI利用上限に達しました。",
            "freee's API limit was reached.",
        )
    if isinstance(error, FreeeOutcomeUnknown):
        return Problem(
            "freee.no_answer",
            "freee",
            "freeeから応答がありませんでした。請求書が作成済みかを確かめてから、やり直します（二重には作成しません）。",
            "freee did not answer; whether the invoice was made is checked before trying again (it is never made"
            " twice).",
        )
    if isinstance(error, FreeeServerError | FreeeUnavailable):
        return Problem(
            "freee.unavailable",
            "freee",
            "freeeが一時的に利用できませんでした（障害または接続できない状態）。",
            "freee was unavailable for a while (an outage, or it could not be reached).",
        )
    if isinstance(error, FreeeValidationError):
        return refused_by_freee(error)
    if isinstance(error, FreeeNotFound):
        return Problem(
            "freee.not_found",
            "freee",
            "freeeに請求書に必要なデータ（取引先など）が見つかりませんでした。freeeで削除されていないか確認してください。",
            "Something the invoice needs (e.g. the partner) was not found in freee; check that it was not deleted"
            " there.",
        )
    return Problem(
        "freee.error",
        "freee",
        f"freeeがエラーを返しました。運用担当者がログで詳細を確認できます（`{SHOW_COMMAND}`）。",
        f"freee answered with an error; an operator can see the details in the log (`{SHOW_COMMAND}`).",
    )


def refused_by_freee(error: FreeeValidationError) -> Problem:
    """freee refused the invoice (400): its own messages, which are about the deal's data."""
    said = "; ".join(error.messages)
    if len(said) > QUOTED_LIMIT:
        said = said[: QUOTED_LIMIT - 1] + "…"
    if said:
        return Problem(
            "freee.refused",
            "invoice",
            f"freeeが請求書を受け付けませんでした: {said}",
            f"freee refused the invoice: {said}",
        )
    return Problem(
        "freee.refused",
        "invoice",
        "freeeが理由を示さずに請求書を受け付けませんでした。取引・会社・明細の内容を確認してください。",
        "freee refused the invoice without saying why; check the deal, its company and line items.",
    )


def failed_reason(error: BaseException) -> Problem:
    """The attempt failed: why, and that it is retried when it is (a transient failure)."""
    cause = reason_for(error)
    if cause is DISCONNECTED or not isinstance(error, Retryable):
        return cause
    return Problem(
        cause.code,
        cause.field,
        f"{cause.ja} 自動で再試行します。",
        f"{cause.en} It will be retried automatically.",
    )


def _inner(cause: Problem) -> tuple[str, str]:
    """A cause as it reads inside parentheses (without its closing full stop)."""
    return cause.ja.removesuffix("。"), cause.en.removesuffix(".")


def retrying_reason(attempts: int, error: BaseException) -> Problem:
    """What the deal shows while a failed attempt waits for its retry."""
    cause = reason_for(error)
    ja, en = _inner(cause)
    return Problem(
        cause.code,
        cause.field,
        f"freeeの請求書をまだ作成できていません（{ja}）。{attempts}回目の試行が失敗しました。自動で再試行します。",
        f"The freee invoice is not created yet ({en}). Attempt {attempts} failed; it will be retried"
        " automatically.",
    )


def gave_up_reason(attempts: int, error: BaseException) -> Problem:
    """What the deal shows when the worker gives up, and how to replay it."""
    cause = reason_for(error)
    ja, en = _inner(cause)
    return Problem(
        cause.code,
        cause.field,
        f"{attempts}回試行しましたが、freeeの請求書を作成できませんでした（{ja}）。"
        f"原因を解消したら、運用担当者が `{REPLAY_COMMAND}` で再実行できます。",
        f"Gave up creating the freee invoice after {attempts} attempts ({en}). "
        f"Once the cause is fixed, an operator can replay it with `{REPLAY_COMMAND}`.",
    )
