"""The invoice worker: for each queue message, ``create_invoice_for_deal`` → delete, retry later, or give up.

Thin, like every handler: parse the body (:class:`~sdk.queue.InvoiceJob`), call the use case, report.

* Success (any :class:`~sdk.usecases.create_invoice.InvoiceOutcome`, invalid deals included): the message is done;
  a blocked workflow action (``callback_id``) is completed with :func:`~sdk.usecases.action_outputs.action_output_fields`
  — once: whoever reaches the deal's outcome first completes every action waiting on it (:mod:`sdk.usecases.waiters`).
* :class:`~sdk.errors.DealBusy` / :class:`~sdk.errors.Retryable` (or anything unexpected): the
  message comes back after the error's ``retry_after`` (else a growing back-off).
* The last allowed attempt (``attempts >= max_receives``) that fails gives up: the deal shows
  ``freee_sync_status=failed`` and why (ja / en, in a rep's words, with how to replay it: :mod:`sdk.usecases.reasons`;
  the exception goes to the log), a blocked workflow action is completed
  with ``failed`` so the workflow does not hang, and the message goes to the dead-letter queue.
* :class:`~sdk.freee.errors.FreeeDisconnected` (freee refused the refresh token; an operator must run ``setup
  freee``): the message is *held* (:meth:`~sdk.queue.Queue.hold`, every ``queue_hold_seconds``) without spending
  an attempt, never dead-lettered for it, and invoiced after the reconnection.
* A body no worker can handle (unknown type, missing fields, an id that is not an id) goes to the dead-letter
  queue at once.
* A job for another portal than ``HUBSPOT_PORTAL_ID`` (or any job while it is not set) goes to the dead-letter
  queue at once, never retried, with no read or write of HubSpot, freee or the ledger (:mod:`sdk.tenant`).

Three ways to run it: :func:`run_worker` (the local loop behind ``hubspot-freee worker`` and the local server),
:func:`drain` (``hubspot-freee worker --once``), both taking one message at a time, and :func:`lambda_handler`
(SQS → Lambda, partial batch failures through Powertools' ``BatchProcessor``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sdk.errors import DealBusy, ForeignPortal, HubSpotFreeeError, Retryable, SettingsError
from sdk.freee.errors import FreeeDisconnected
from sdk.log import get_logger
from sdk.queue import InvoiceJob, Message, Queue, decode_body
from sdk.runtime import LambdaRuntime
from sdk.tenant import check_portal
from sdk.usecases.action_outputs import action_output_fields
from sdk.usecases.create_invoice import InvoiceOutcome, create_invoice_for_deal
from sdk.usecases.give_up import give_up, show_retrying
from sdk.usecases.health import HealthProblem
from sdk.usecases.reasons import for_the_log
from sdk.usecases.waiters import complete_queued_action

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from sdk.usecases.context import Context

#: back-off when an error gives no ``retry_after``: 15 s, 30 s, 1 min, 2 min, … at most 15 min
BACKOFF_FIRST_SECONDS = 15.0
BACKOFF_MAX_SECONDS = 900.0


class Disposition(StrEnum):
    DONE = "done"  # delete the message
    RETRY = "retry"  # deliver it again after ``delay``
    DEAD = "dead"  # move it to the dead-letter queue
    HOLD = "hold"  # deliver it again after ``delay`` without spending an attempt (freee disconnected)


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What the worker did with one message."""

    message_id: str
    disposition: Disposition
    attempts: int
    job: InvoiceJob | None = None
    outcome: InvoiceOutcome | None = None
    delay: float = 0.0
    error: str | None = None
    gave_up: bool = False
    refused: bool = False  # another portal's job (or no HUBSPOT_PORTAL_ID): dead-lettered untouched

    @property
    def deal_id(self) -> str | None:
        return self.job.deal_id if self.job else None

    @property
    def result(self) -> str:
        """``created``, ``already_invoiced``, ``invalid``, … for an outcome; else ``retry``, ``gave_up``,
        ``refused`` or ``malformed``."""
        if self.outcome is not None:
            return self.outcome.result.value
        if self.disposition is Disposition.RETRY:
            return "retry"
        if self.disposition is Disposition.HOLD:
            return "held"
        if self.refused:
            return "refused"
        return "gave_up" if self.gave_up else "malformed"


# --------------------------------------------------------------------------------------------- one message


def handle_message(ctx: Context, message: Message, *, max_receives: int) -> WorkerResult:
    """Run one message's job. Never raises: every failure is a disposition (retry, hold or dead letter), and one
    that escapes the job's own handling (a bug, the logger, the store) is caught here, per message, so the loop
    goes on and the deal says what happened."""
    try:
        return _handle_message(ctx, message, max_receives=max_receives)
    except Exception as error:
        return _crashed(ctx, message, error, last=message.attempts >= max_receives)


def _crashed(ctx: Context, message: Message, error: Exception, *, last: bool) -> WorkerResult:
    """Something failed outside the job's own failure handling: retry the message (or give up on the last
    attempt) and show the deal as failed-and-retrying. A body no worker can handle, or another portal's job, goes
    to the dead-letter queue at once, as on the ordinary path. Every step is guarded: this must not raise."""
    described = for_the_log(error)
    try:
        job: InvoiceJob | None = InvoiceJob.model_validate(message.body)
    except Exception:
        job = None
    _quietly(lambda: get_logger().exception({"event": "message_crashed", "message_id": message.id}))
    if job is None:  # a body no worker can handle: no attempt helps, whatever broke while saying so
        return WorkerResult(
            message.id, Disposition.DEAD, message.attempts, error=f"malformed message ({described})"
        )
    if not _ours(ctx, job):  # another portal's (or no portal configured): refused untouched, never retried
        return WorkerResult(
            message.id, Disposition.DEAD, message.attempts, job, error=f"refused ({described})", refused=True
        )
    if last:
        _quietly(lambda: give_up(ctx, job, message.attempts, error))
        return WorkerResult(
            message.id, Disposition.DEAD, message.attempts, job, error=described, gave_up=True
        )
    _quietly(lambda: show_retrying(ctx, job, message.attempts, error))
    delay = retry_delay(error, message.attempts)
    return WorkerResult(message.id, Disposition.RETRY, message.attempts, job, delay=delay, error=described)


def _ours(ctx: Context, job: InvoiceJob) -> bool:
    try:
        check_portal(ctx.settings, job.portal_id)
    except Exception:
        return False
    return True


def _quietly(step: Callable[[], object]) -> None:
    """Best effort by design: the message is settled whatever happens here."""
    with contextlib.suppress(Exception):
        step()


def _handle_message(ctx: Context, message: Message, *, max_receives: int) -> WorkerResult:
    logger = get_logger()
    try:
        job = InvoiceJob.model_validate(message.body)
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in invalid.errors(include_url=False, include_input=False)
        )
        logger.error({"event": "message_malformed", "message_id": message.id, "problems": problems})
        return WorkerResult(
            message.id, Disposition.DEAD, message.attempts, error=f"malformed message: {problems}"
        )
    try:
        check_portal(ctx.settings, job.portal_id)
    except (ForeignPortal, SettingsError) as refused:
        logger.error(
            {
                "event": "message_refused",
                "message_id": message.id,
                "portal_id": job.portal_id,
                "deal_id": job.deal_id,
                "configured_portal_id": ctx.settings.hubspot_portal_id,
            }
        )
        return WorkerResult(
            message.id, Disposition.DEAD, message.attempts, job, error=f"refused: {refused}", refused=True
        )

    with logger.append_context_keys(deal_id=job.deal_id, portal_id=job.portal_id, trigger=job.trigger):
        try:
            try:
                outcome = create_invoice_for_deal(ctx, job.portal_id, job.deal_id, job.trigger)
            except FreeeDisconnected as disconnected:
                return _held(ctx, message, job, disconnected)
            if job.callback_id:  # unless the outcome's own release of waiters completed it already
                complete_queued_action(ctx, job, action_output_fields(outcome, None))
        except Exception as error:
            return _failed(ctx, message, job, error, last=message.attempts >= max_receives)
        logger.info(
            {
                "event": "message_done",
                "message_id": message.id,
                "attempt": message.attempts,
                "result": outcome.result.value,
                "invoice_id": outcome.invoice.invoice_id if outcome.invoice else None,
            }
        )
        return WorkerResult(message.id, Disposition.DONE, message.attempts, job, outcome)


def _failed(ctx: Context, message: Message, job: InvoiceJob, error: Exception, *, last: bool) -> WorkerResult:
    logger = get_logger()
    described = for_the_log(error)
    event = {
        "event": "message_failed",
        "message_id": message.id,
        "attempt": message.attempts,
        "error": described,
    }
    if not isinstance(error, Retryable):
        logger.exception(
            event
        )  # unexpected: keep the traceback; retried all the same (an operator may fix it)
    if not last:
        delay = retry_delay(error, message.attempts)
        if isinstance(error, Retryable):
            logger.warning(event | {"retry_in": delay})
        if not isinstance(error, DealBusy):  # a busy deal is another worker's: it says what it does
            show_retrying(ctx, job, message.attempts, error)
        return WorkerResult(
            message.id, Disposition.RETRY, message.attempts, job, delay=delay, error=described
        )
    give_up(ctx, job, message.attempts, error)
    return WorkerResult(message.id, Disposition.DEAD, message.attempts, job, error=described, gave_up=True)


def _held(ctx: Context, message: Message, job: InvoiceJob, error: FreeeDisconnected) -> WorkerResult:
    """freee is disconnected: nothing this worker can do, and nothing to give up on. The message waits (held,
    never dead-lettered whatever its attempts) and is rechecked every ``queue_hold_seconds`` until an operator
    reconnects; the deal already says so (:data:`~sdk.usecases.create_invoice.FREEE_DISCONNECTED_MESSAGE`)."""
    delay = ctx.settings.queue_hold_seconds
    get_logger().warning(
        {"event": "message_held", "message_id": message.id, "attempt": message.attempts, "recheck_in": delay}
    )
    return WorkerResult(message.id, Disposition.HOLD, message.attempts, job, delay=delay, error=str(error))


def retry_delay(error: BaseException, attempts: int) -> float:
    """The error's own hint (``retry_after``, e.g. a lease's remaining seconds or ``Retry-After``), else a
    doubling back-off."""
    hint = error.retry_after if isinstance(error, Retryable) else None
    if hint is not None:
        return min(BACKOFF_MAX_SECONDS, max(1.0, float(hint)))
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * float(2 ** max(0, attempts - 1)))


# ------------------------------------------------------------------------------------------ the local loop


def settle(queue: Queue, message: Message, result: WorkerResult) -> None:
    """Apply a result to the queue."""
    if result.disposition is Disposition.DONE:
        queue.delete(message)
    elif result.disposition is Disposition.RETRY:
        queue.retry_later(message, result.delay)
    elif result.disposition is Disposition.HOLD:
        queue.hold(message, result.delay)
    else:
        queue.dead_letter(message, result.error or "")


def _work(
    ctx: Context,
    queue: Queue,
    *,
    stop: threading.Event | None,
    on_result: Callable[[WorkerResult], None] | None,
) -> Iterator[WorkerResult]:
    """Receive and handle one message at a time until nothing is visible (or ``stop``).

    One at a time, not a batch: the local worker holds only the message it works on. A message received in a
    batch would wait its turn while its visibility timeout (``queue_visibility_timeout``) runs; behind a slow one
    (freee's rate limit alone paces a deal to a few calls a minute) it would be handed to another worker, spending
    an attempt, and on its last one be given up. Extending the visibility of the waiting ones instead would need a
    heartbeat beside the work and still strand them for a whole timeout if the process died. A receive costs a
    SQLite transaction, or one SQS request per message beside the several HubSpot and freee calls it starts. More
    throughput comes from more workers (``hubspot-freee worker`` processes), each holding one message."""
    while stop is None or not stop.is_set():
        messages = queue.receive(1, ctx.settings.queue_visibility_timeout)
        if not messages:
            return
        for message in messages:
            result = handle_message(ctx, message, max_receives=queue.max_receives)
            settle(queue, message, result)
            if on_result is not None:
                on_result(result)
            yield result


def drain(
    ctx: Context,
    queue: Queue,
    *,
    on_result: Callable[[WorkerResult], None] | None = None,
) -> list[WorkerResult]:
    """Handle every message visible now (and any that become visible meanwhile), then return."""
    return list(_work(ctx, queue, stop=None, on_result=on_result))


def run_worker(
    ctx: Context,
    queue: Queue,
    *,
    stop: threading.Event,
    poll_interval: float = 1.0,
    on_result: Callable[[WorkerResult], None] | None = None,
) -> int:
    """Handle messages, one at a time, until ``stop`` is set, polling every ``poll_interval`` seconds when the
    queue is empty. Returns how many messages were handled. A queue that cannot be reached is logged and polled
    again."""
    handled = 0
    while not stop.is_set():
        before = handled
        try:
            for _ in _work(ctx, queue, stop=stop, on_result=on_result):
                handled += 1
        except Exception:
            get_logger().exception({"event": "queue_unavailable"})
        if handled == before:
            stop.wait(poll_interval)
    return handled


class WorkerThread:
    """The local worker (``hubspot-freee serve``) in a daemon thread that is started again when it dies.

    :meth:`check` (called by the server's main loop) restarts a thread that ended while the server runs and counts
    it; ``/healthz`` reports :meth:`problems` (a worker not running: 503 until it runs again) and :meth:`notes`
    (every restart, with its cause)."""

    def __init__(
        self, ctx: Context, queue: Queue, *, stop: threading.Event, poll_interval: float = 1.0
    ) -> None:
        self.ctx, self.queue, self.stop, self.poll_interval = ctx, queue, stop, poll_interval
        self.restarts = 0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._thread = threading.Thread(target=self._run, name="invoice-worker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            run_worker(self.ctx, self.queue, stop=self.stop, poll_interval=self.poll_interval)
        except BaseException as error:  # recorded for /healthz; check() starts a new thread
            self.last_error = f"{error.__class__.__name__}: {error}"
            _quietly(lambda: get_logger().exception({"event": "worker_thread_died"}))

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def check(self) -> bool:
        """Start the worker again if it died while the server runs; True when it did."""
        if self.stop.is_set() or self.alive:
            return False
        self.restarts += 1
        _quietly(
            lambda: get_logger().error(
                {"event": "worker_thread_restarted", "restarts": self.restarts, "error": self.last_error}
            )
        )
        self.start()
        return True

    def problems(self) -> list[HealthProblem]:
        """What makes the server unhealthy: a worker that is not running (until :meth:`check` restarts it)."""
        if self.alive or self.stop.is_set():
            return []
        cause = self.last_error or "not started"
        return [
            HealthProblem(
                "worker_not_running",
                f"請求書ワーカーが停止しています（{cause}）",
                f"the invoice worker is not running ({cause})",
            )
        ]

    def notes(self) -> list[str]:
        """What the operator should know though the worker runs again: each restart and its cause."""
        if not self.restarts:
            return []
        return [
            f"the invoice worker thread died and was restarted {self.restarts} time(s); last cause: "
            f"{self.last_error} / 請求書ワーカーが停止し、{self.restarts}回再起動しました"
        ]

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


# ------------------------------------------------------------------------------------------------- Lambda

RUNTIME = LambdaRuntime()


class MessageNotDone(HubSpotFreeeError):
    """Reported to SQS as a batch item failure: the message is delivered again (or dead-lettered by SQS)."""


def record_handler(record: SQSRecord) -> None:
    ctx = RUNTIME.context
    message = Message(
        id=record.message_id,
        body=decode_body(record.body or ""),
        attempts=int(record.attributes.approximate_receive_count or 1),
        receipt=record.receipt_handle,
    )
    result = handle_message(ctx, message, max_receives=ctx.settings.queue_max_receives)
    if result.disposition is Disposition.DONE:
        return
    if result.disposition is Disposition.HOLD and _hold(record, message, result.delay):
        return  # sent again with a delay, this receive deleted: reported done so SQS does not count it
    if result.disposition is Disposition.DEAD and _dead_letter(record, message, result.error or ""):
        return  # in the dead-letter queue now (another portal's, malformed, or given up), not received again
    if result.disposition is Disposition.RETRY:
        _delay_redelivery(record, message, result.delay)
    raise MessageNotDone(f"message {message.id}: {result.result}: {result.error}")


def _sqs_queue(record: SQSRecord) -> Any:
    """The queue a record came from, on one SQS client per container."""
    from sdk.queue.sqs import SQSQueue, queue_name_from_arn

    return SQSQueue(queue_name_from_arn(record.event_source_arn), client=RUNTIME.sqs_client)


def _hold(record: SQSRecord, message: Message, delay: float) -> bool:
    """Hold the record's message without spending a receive (:meth:`sdk.queue.sqs.SQSQueue.hold`). False when
    that failed: the record is then reported not done and comes back after the visibility timeout."""
    try:
        _sqs_queue(record).hold(message, delay)
    except Exception:
        get_logger().exception({"event": "hold_not_set", "message_id": message.id, "delay": delay})
        return False
    return True


def _dead_letter(record: SQSRecord, message: Message, reason: str) -> bool:
    """Move the record's message to the dead-letter queue at once (:meth:`sdk.queue.sqs.SQSQueue.dead_letter`),
    rather than letting SQS receive it again up to its ``maxReceiveCount``. False when that failed: the record
    is then reported not done, and SQS dead-letters it after its last receive."""
    try:
        _sqs_queue(record).dead_letter(message, reason[:250])
    except Exception:
        get_logger().exception({"event": "dead_letter_not_moved", "message_id": message.id})
        return False
    return True


def _delay_redelivery(record: SQSRecord, message: Message, delay: float) -> None:
    """Honour ``retry_after``: hide the failed record for ``delay`` (else SQS redelivers it after the queue's
    visibility timeout). Best-effort."""
    try:
        _sqs_queue(record).retry_later(message, delay)
    except Exception:
        get_logger().warning({"event": "retry_delay_not_set", "message_id": message.id, "delay": delay})


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """SQS → Lambda: each record handled on its own; only the records not done are reported as failures
    (``batchItemFailures``), so one bad message never fails the batch. Needs ``ReportBatchItemFailures``."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    return process_partial_response(
        event=event, record_handler=record_handler, processor=RUNTIME.sqs_batch_processor, context=context
    )


__all__ = [
    "Disposition",
    "MessageNotDone",
    "WorkerResult",
    "WorkerThread",
    "drain",
    "handle_message",
    "lambda_handler",
    "record_handler",
    "retry_delay",
    "run_worker",
    "settle",
]
