"""The queue port: work (one invoice per message) handed from the webhook and workflow-action endpoints to the
invoice worker, with visibility timeouts, bounded redelivery and a dead-letter queue (DESIGN §3–§4).

Two adapters pass one test suite (``tests/queue``): :class:`sdk.queue.sqlite.SQLiteQueue` (embedded default, one
machine, several worker processes) and :class:`sdk.queue.sqs.SQSQueue` (AWS SQS with a redrive policy to a DLQ).
:func:`open_queue` picks one from the ``queue_url`` setting.

The contract, whichever the adapter:

* :meth:`Queue.receive` hands a message to one receiver at a time and hides it for ``visibility_timeout``
  seconds. Not deleted by then, it is delivered again with ``attempts`` one higher and a new ``receipt``.
* A message already received ``max_receives`` times is moved to the dead-letter queue instead of being delivered
  again, so the worker's *last* attempt is the one where ``message.attempts >= queue.max_receives``.
* :meth:`Queue.delete`, :meth:`Queue.retry_later` and :meth:`Queue.dead_letter` act only with the message's
  latest receipt: a receiver whose visibility expired (and whose message another receiver now holds) changes
  nothing.
* :meth:`Queue.redrive` moves dead letters back with their attempts reset, for when the cause has been fixed.
* :meth:`Queue.hold` puts a message aside for a while *without* spending an attempt: for work that waits on an
  operator (freee disconnected) rather than failing, so it never reaches the dead-letter queue however long it
  waits. (SQS cannot un-count a receive, so there the message is sent again and may come back with a new id.)

The bodies on the invoice queue are :class:`InvoiceJob`s; producers build them with :meth:`InvoiceJob.body`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from sdk.models.ids import HubSpotId, HubSpotIdText

if TYPE_CHECKING:
    from sdk.clock import Clock
    from sdk.settings import Settings

DEFAULT_MAX_RECEIVES = 5
DLQ_SUFFIX = "-dlq"


@dataclass(frozen=True, slots=True)
class Message:
    """One delivery of a message: ``attempts`` counts the receives so far, this one included; ``receipt``
    identifies this delivery (it changes at every receive)."""

    id: str
    body: dict[str, Any]
    attempts: int
    receipt: str
    reason: str = ""
    """Why a dead letter died (given to :meth:`Queue.dead_letter`, or ``received N times``): dead letters only."""


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How many messages wait (``visible``), are being worked on or wait out a retry delay (``in_flight``),
    wait out a send delay (``delayed``), and lie in the dead-letter queue (``dead``)."""

    visible: int
    in_flight: int
    dead: int
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.dead + self.delayed


class Queue(Protocol):
    #: a message received this many times goes to the dead-letter queue instead of being delivered again
    max_receives: int

    def send(self, body: dict[str, Any], *, delay: float = 0) -> str:
        """Enqueue ``body`` (JSON-serialisable), visible after ``delay`` seconds; returns the message id."""
        ...

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> list[str]:
        """Enqueue several bodies (in as few calls as the backend allows); their ids, in order. Raises if any
        could not be queued (some may have been: a message must be safe to handle twice)."""
        ...

    def receive(self, max_messages: int = 10, visibility_timeout: float = 60) -> list[Message]:
        """Up to ``max_messages`` visible messages, each hidden from other receivers for ``visibility_timeout``."""
        ...

    def delete(self, message: Message) -> None:
        """The message is done. With a stale receipt (received again since), nothing happens."""
        ...

    def retry_later(self, message: Message, delay: float) -> None:
        """Hide the message for ``delay`` seconds, then deliver it again (that receive is one more attempt)."""
        ...

    def dead_letter(self, message: Message, reason: str = "") -> None:
        """Move a received message to the dead-letter queue now (a body no worker can handle)."""
        ...

    def hold(self, message: Message, delay: float) -> None:
        """Deliver the message again after ``delay`` seconds as if this receive had not happened: it does not
        count toward ``max_receives`` (the next delivery has at most the attempts this one had). With a stale
        receipt, nothing happens."""
        ...

    def dead_letters(self, limit: int = 100) -> list[Message]:
        """The dead letters, oldest first (``attempts``: how often each was received before it died; ``reason``:
        why)."""
        ...

    def redrive(
        self, message_ids: Sequence[str] | None = None, *, on_moved: Callable[[int], None] | None = None
    ) -> int:
        """Move dead letters (those named, or all with ``None``) back to the queue with attempts reset;
        returns how many moved. ``on_moved(moved so far)`` is called as they move (for a progress bar)."""
        ...

    def depth(self) -> QueueDepth: ...


class InvoiceJob(BaseModel):
    """The body of a message on the invoice queue: create (or confirm) the invoice of one deal."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["create_invoice"] = "create_invoice"
    portal_id: HubSpotId  # the one id policy (sdk.models.ids): no booleans, no floats
    deal_id: HubSpotIdText
    trigger: str = "queue"
    callback_id: str | None = None
    waiter: bool = False
    """The workflow action left a waiter for ``callback_id`` (:mod:`sdk.usecases.waiters`): whoever reaches the
    deal's outcome completes it, so this job completes it only if it can still take it."""
    event_ids: tuple[HubSpotId, ...] = ()
    """The webhook events that asked for this job (``trigger`` ``webhook``), for tracing a delivery to its work."""

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


RAW_BODY_KEY = "_unparsed"


def decode_body(text: str) -> dict[str, Any]:
    """A message body as the worker sees it: the JSON object, or ``{"_unparsed": text}`` for anything else (so a
    malformed message reaches the worker, which dead-letters it, instead of breaking the receive)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {RAW_BODY_KEY: text}
    return data if isinstance(data, dict) else {RAW_BODY_KEY: text}


def encode_body(body: dict[str, Any]) -> str:
    """The text to store or send for ``body``; the inverse of :func:`decode_body` (an unparsed body goes back
    as it came)."""
    if set(body) == {RAW_BODY_KEY} and isinstance(body[RAW_BODY_KEY], str):
        return str(body[RAW_BODY_KEY])
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def open_queue(url: str, *, max_receives: int | None = None, clock: Clock | None = None) -> Queue:
    """``sqlite:///path/to/file.sqlite`` or ``sqs://queue-name`` (dead letters in ``queue-name-dlq``)."""
    receives = max_receives if max_receives is not None else DEFAULT_MAX_RECEIVES
    if url.startswith("sqlite:///") and url != "sqlite:///":
        from sdk.queue.sqlite import SQLiteQueue

        return SQLiteQueue(url.removeprefix("sqlite:///"), max_receives=receives, clock=clock)
    if url.startswith("sqs://") and url != "sqs://":
        from sdk.queue.sqs import SQSQueue

        return SQSQueue(url.removeprefix("sqs://"), max_receives=receives)
    raise ValueError(f"unknown queue URL {url!r}; use sqlite:///path or sqs://queue-name")


def queue_from_settings(settings: Settings, *, clock: Clock | None = None) -> Queue:
    """The queue named by ``queue_url``, dead-lettering after ``queue_max_receives`` receives."""
    return open_queue(settings.queue_url, max_receives=settings.queue_max_receives, clock=clock)


__all__ = [
    "DEFAULT_MAX_RECEIVES",
    "DLQ_SUFFIX",
    "RAW_BODY_KEY",
    "InvoiceJob",
    "Message",
    "Queue",
    "QueueDepth",
    "decode_body",
    "encode_body",
    "open_queue",
    "queue_from_settings",
]
