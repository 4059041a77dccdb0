"""The AWS queue: an SQS standard queue whose redrive policy moves a message to ``{name}-dlq`` once it has been
received ``maxReceiveCount`` times; nothing home-made.

* ``attempts`` is SQS's ``ApproximateReceiveCount``; ``receipt`` its receipt handle (SQS ignores a delete with a
  stale one, so a receiver whose visibility expired cannot delete a message another receiver now holds).
* :meth:`SQSQueue.retry_later` is ``ChangeMessageVisibility`` (at most 12 hours); a send delay is at most 15
  minutes (SQS's limits; longer values are clamped).
* :meth:`SQSQueue.hold` sends the same body again with ``DelaySeconds`` (at most 15 minutes) and deletes the
  received message: SQS counts every receive toward the redrive policy, so a held message starts again from
  zero receives (under a new message id).
* :meth:`SQSQueue.dead_letter` sends the body to the DLQ (with the reason, the attempts and the message id as
  message attributes) and deletes it from the queue. A dead letter is listed and redriven by the id it had on the
  queue, however it got to the DLQ.
* :meth:`SQSQueue.dead_letters` reads the DLQ without consuming it: each batch is received with a short lease
  so the next receive sees further messages, and is made visible again at once (visibility timeout 0).
  A message the redrive policy moved was received exactly ``max_receives`` times, which is what it reports.
* :meth:`SQSQueue.redrive` sends dead letters back to the queue (a fresh message, attempts from zero) and then
  deletes them from the DLQ; a crash in between leaves a duplicate, which the ledger makes harmless (DESIGN §3).

``boto3`` is imported only when a client is first needed. :func:`create_queues` creates the pair (for tests, the
demo and documentation; ``serverless.yml`` declares the same for deployments).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sdk.queue import DEFAULT_MAX_RECEIVES, DLQ_SUFFIX, Message, QueueDepth, decode_body, encode_body

MAX_BATCH = 10
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_SECONDS = 43_200
DLQ_RETENTION_SECONDS = 1_209_600  # 14 days, SQS's maximum
#: how long a batch read from the DLQ stays hidden before it is made visible again
SCAN_LEASE_SECONDS = 30
_STALE_RECEIPT_CODES = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "AWS.SimpleQueueService.ReceiptHandleIsInvalid",
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
    }
)


def create_queues(
    client: Any, name: str, max_receives: int = DEFAULT_MAX_RECEIVES, *, visibility_timeout: int = 120
) -> tuple[str, str]:
    """Create ``name`` and ``name-dlq`` with a redrive policy between them; returns both queue URLs."""
    dlq_url = client.create_queue(
        QueueName=name + DLQ_SUFFIX, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = client.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )["QueueUrl"]
    return str(url), str(dlq_url)


def queue_name_from_arn(arn: str) -> str:
    """``arn:aws:sqs:region:account:name`` → ``name``."""
    return arn.rsplit(":", 1)[-1]


@dataclass(frozen=True, slots=True)
class QueueShape:
    """What SQS says of the queue pair: the names that do not exist, the queue the redrive policy sends dead
    letters to (None: no policy) and after how many receives."""

    missing: tuple[str, ...]
    redrive_target: str | None = None
    max_receive_count: int | None = None


def _seconds(value: float, limit: int) -> int:
    return min(limit, max(0, math.ceil(value)))


class SQSQueue:
    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        max_receives: int = DEFAULT_MAX_RECEIVES,
        wait_seconds: int = 0,
    ) -> None:
        """``wait_seconds`` > 0 long-polls each receive (fewer empty answers from a real queue)."""
        if max_receives < 1:
            raise ValueError("max_receives must be at least 1")
        self.name = name
        self.dlq_name = name + DLQ_SUFFIX
        self.max_receives = max_receives
        self.wait_seconds = wait_seconds
        self._client = client
        self._urls: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SQSQueue({self.name!r}, max_receives={self.max_receives})"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # deferred: importing sdk stays cheap

            self._client = boto3.client("sqs")
        return self._client

    def _url(self, name: str) -> str:
        if name not in self._urls:
            self._urls[name] = str(self.client.get_queue_url(QueueName=name)["QueueUrl"])
        return self._urls[name]

    @property
    def url(self) -> str:
        return self._url(self.name)

    @property
    def dlq_url(self) -> str:
        return self._url(self.dlq_name)

    def shape(self) -> QueueShape:
        """Whether the queue and its DLQ exist, and where the queue's redrive policy sends dead letters after how
        many receives (``doctor``). Any refusal but a missing queue (credentials, permissions) raises botocore's
        error."""
        missing: list[str] = []
        for name in (self.name, self.dlq_name):
            try:
                self._url(name)
            except self.client.exceptions.QueueDoesNotExist:
                missing.append(name)
        if self.name in missing:
            return QueueShape(tuple(missing))
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["RedrivePolicy"])
        policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy") or "{}")
        target = policy.get("deadLetterTargetArn")
        count = policy.get("maxReceiveCount")
        return QueueShape(
            tuple(missing),
            queue_name_from_arn(str(target)) if target else None,
            int(count) if count is not None else None,
        )

    # ------------------------------------------------------------------------------------------- messages

    def send(self, body: dict[str, Any], *, delay: float = 0) -> str:
        answer = self.client.send_message(
            QueueUrl=self.url,
            MessageBody=encode_body(body),
            DelaySeconds=_seconds(delay, MAX_DELAY_SECONDS),
        )
        return str(answer["MessageId"])

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(bodies), MAX_BATCH):
            chunk = bodies[start : start + MAX_BATCH]
            answer = self.client.send_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(n), "MessageBody": encode_body(body)} for n, body in enumerate(chunk)],
            )
            failed = answer.get("Failed") or []
            if failed:
                reasons = "; ".join(f"{f.get('Code')}: {f.get('Message')}" for f in failed)
                raise RuntimeError(f"SQS refused {len(failed)} of {len(chunk)} messages: {reasons}")
            by_entry = {int(s["Id"]): str(s["MessageId"]) for s in answer.get("Successful", [])}
            ids.extend(by_entry[n] for n in range(len(chunk)))
        return ids

    def _receive(
        self, url: str, count: int, visibility_timeout: int, *, attributes: bool = False
    ) -> list[dict[str, Any]]:
        answer = self.client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(MAX_BATCH, count)),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"] if attributes else [],
        )
        return list(answer.get("Messages", []))

    def receive(self, max_messages: int = 10, visibility_timeout: float = 60) -> list[Message]:
        received: list[Message] = []
        while len(received) < max_messages:
            wanted = min(MAX_BATCH, max_messages - len(received))
            batch = self._receive(self.url, wanted, _seconds(visibility_timeout, MAX_VISIBILITY_SECONDS))
            fresh = [m for m in batch if all(r.id != m["MessageId"] for r in received)]
            received.extend(
                Message(
                    str(m["MessageId"]),
                    decode_body(str(m.get("Body", ""))),
                    int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                    str(m["ReceiptHandle"]),
                )
                for m in fresh
            )
            if len(fresh) < wanted:
                break
        return received

    @staticmethod
    def _stale_receipt(error: Exception) -> bool:
        """SQS's answers for a receipt handle that is no longer the message's latest (or no message at all)."""
        details = getattr(error, "response", {}).get("Error", {})
        code, text = str(details.get("Code", "")), str(details.get("Message", ""))
        return code in _STALE_RECEIPT_CODES or (
            code.endswith("InvalidParameterValue") and "ReceiptHandle" in text
        )

    def delete(self, message: Message) -> None:
        try:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)
        except Exception as error:
            if not self._stale_receipt(error):
                raise

    def retry_later(self, message: Message, delay: float) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=self.url,
                ReceiptHandle=message.receipt,
                VisibilityTimeout=_seconds(delay, MAX_VISIBILITY_SECONDS),
            )
        except Exception as error:
            if not self._stale_receipt(error):
                raise

    def _still_ours(self, message: Message) -> bool:
        """Whether ``message``'s receipt is still the latest (a delete with a stale receipt succeeds without
        deleting, so check before copying a message another receiver may now hold)."""
        try:
            self.client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message.receipt, VisibilityTimeout=SCAN_LEASE_SECONDS
            )
        except Exception as error:
            if self._stale_receipt(error):
                return False
            raise
        return True

    def hold(self, message: Message, delay: float) -> None:
        if not self._still_ours(message):
            return
        self.send(message.body, delay=delay)
        self.delete(message)

    def dead_letter(self, message: Message, reason: str = "") -> None:
        if not self._still_ours(message):
            return
        self.client.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=encode_body(message.body),
            MessageAttributes={
                "attempts": {"DataType": "Number", "StringValue": str(message.attempts)},
                "dead_reason": {"DataType": "String", "StringValue": reason or "dead-lettered"},
                "source_message_id": {"DataType": "String", "StringValue": message.id},
            },
        )
        self.delete(message)

    # --------------------------------------------------------------------------------------- dead letters

    @staticmethod
    def _dead_id(raw: dict[str, Any]) -> str:
        """A dead letter keeps the id it had on the queue (SQS keeps it when its redrive policy moves a message;
        :meth:`dead_letter` sends a new message, so the id travels as an attribute)."""
        attributes = raw.get("MessageAttributes") or {}
        return str(attributes.get("source_message_id", {}).get("StringValue") or raw["MessageId"])

    def _dead(self, raw: dict[str, Any]) -> Message:
        attributes = raw.get("MessageAttributes") or {}
        attempts = attributes.get("attempts", {}).get("StringValue")
        count = int(attempts) if attempts is not None else self.max_receives
        reason = attributes.get("dead_reason", {}).get("StringValue")
        return Message(
            self._dead_id(raw),
            decode_body(str(raw.get("Body", ""))),
            count,
            str(raw["ReceiptHandle"]),
            str(reason) if reason else f"received {count} times",  # moved by SQS's redrive policy
        )

    def _release(self, messages: Sequence[dict[str, Any]]) -> None:
        """Make DLQ messages read during a scan visible again at once."""
        if not messages:
            return
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages)
        ]
        for start in range(0, len(entries), MAX_BATCH):
            self.client.change_message_visibility_batch(
                QueueUrl=self.dlq_url, Entries=entries[start : start + MAX_BATCH]
            )

    def dead_letters(self, limit: int = 100) -> list[Message]:
        seen: dict[str, dict[str, Any]] = {}
        held: list[dict[str, Any]] = []
        try:
            while len(seen) < limit:
                batch = self._receive(self.dlq_url, limit - len(seen), SCAN_LEASE_SECONDS, attributes=True)
                held.extend(batch)
                fresh = [m for m in batch if self._dead_id(m) not in seen]
                if not fresh:
                    break
                for m in fresh:
                    seen[self._dead_id(m)] = m
        finally:
            self._release(held)
        return [self._dead(m) for m in list(seen.values())[:limit]]

    def redrive(
        self, message_ids: Sequence[str] | None = None, *, on_moved: Callable[[int], None] | None = None
    ) -> int:
        wanted = None if message_ids is None else set(message_ids)
        moved = 0
        seen: set[str] = set()
        held: list[dict[str, Any]] = []
        try:
            while wanted is None or wanted - seen:
                batch = self._receive(self.dlq_url, MAX_BATCH, SCAN_LEASE_SECONDS, attributes=True)
                fresh = [m for m in batch if self._dead_id(m) not in seen]
                if not fresh:
                    held.extend(batch)
                    break
                for m in fresh:
                    seen.add(self._dead_id(m))
                    if wanted is not None and self._dead_id(m) not in wanted:
                        held.append(m)
                        continue
                    self.client.send_message(QueueUrl=self.url, MessageBody=m.get("Body", ""))
                    self.client.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=m["ReceiptHandle"])
                    moved += 1
                    if on_moved is not None:
                        on_moved(moved)
        finally:
            self._release(held)
        return moved

    def depth(self) -> QueueDepth:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        queue = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)["Attributes"]
        dead = self.client.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=names)["Attributes"]
        return QueueDepth(
            visible=int(queue.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(queue.get("ApproximateNumberOfMessagesNotVisible", 0)),
            dead=sum(int(dead.get(n, 0)) for n in names),
            delayed=int(queue.get("ApproximateNumberOfMessagesDelayed", 0)),
        )
