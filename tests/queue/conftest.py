"""Every test that asks for ``queue`` runs against each adapter of the Queue port (SQLite, SQS under moto).

Both run on one fake clock, so the suite moves time instead of sleeping: the SQLite queue takes the ``clock``
(a :class:`~sdk.clock.FakeClock`); moto's SQS reads real time, so for SQS its clock is real time *plus* every
second the test advances the fake clock (time still moves, by microseconds, between two calls, as SQS needs
to make a message with visibility timeout 0 visible again).

SQS applies each request atomically; moto handles requests from several threads without a lock, so requests are
serialised here to give that guarantee back (as the ``aws`` fixture does for DynamoDB).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdk.clock import FakeClock
from sdk.queue import Queue

QUEUE = "hubspot-freee-test"
MAX_RECEIVES = 3


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqs_client(aws: None, botocore_session: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 SQS client on moto, with moto's clock following ``clock`` and one request at a time."""
    import boto3
    import moto.sqs.models as sqs_models
    from moto.sqs.responses import SQSResponse

    def unix_time(dt: Any = None) -> float:
        return time.time() + clock.monotonic()

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time() * 1000.0

    monkeypatch.setattr(sqs_models, "unix_time", unix_time)
    monkeypatch.setattr(sqs_models, "unix_time_millis", unix_time_millis)

    one_request_at_a_time = threading.Lock()
    handle: Callable[[SQSResponse], Any] = SQSResponse.call_action

    def atomic_call_action(self: SQSResponse) -> Any:
        with one_request_at_a_time:
            return handle(self)

    monkeypatch.setattr(SQSResponse, "call_action", atomic_call_action)
    return boto3.Session(botocore_session=botocore_session).client("sqs")


@pytest.fixture(params=["sqlite", "sqs"])
def queue(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Queue:
    if request.param == "sqlite":
        from sdk.queue.sqlite import SQLiteQueue

        return SQLiteQueue(tmp_path / "queue.sqlite", max_receives=MAX_RECEIVES, clock=clock)
    from sdk.queue.sqs import SQSQueue, create_queues

    client = request.getfixturevalue("sqs_client")
    create_queues(client, QUEUE, MAX_RECEIVES)
    return SQSQueue(QUEUE, client=client, max_receives=MAX_RECEIVES)
