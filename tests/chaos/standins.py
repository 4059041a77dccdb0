"""The chaos storm's stand-ins: what the workers and the store go through (:mod:`tests.chaos.harness`).

* :class:`KillSwitch` and :class:`Mortal` — a worker may die (``Killed``) before or after any call of its clients
  or store, stall past its lease after a freee invoice read and then go on (the zombie), or lose freee's answer to
  a crowd's invoice.
* :class:`Restartable` over a :class:`StoreKind` — the store (SQLite, or DynamoDB under moto) as every component
  sees it: it goes down once (every call fails as that store fails) and comes back reopened.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdk.clock import Clock
from sdk.store.sqlite import SQLiteStore
from tests.chaos.races import FREEE_READS

if TYPE_CHECKING:
    from tests.chaos.harness import Report


class Killed(BaseException):
    """A worker process dies here: nothing after this point runs, nothing is acknowledged or released."""


class StoreDown(sqlite3.OperationalError):
    """The store is not there (restarting)."""


class KillSwitch:
    """Shared by the workers: each call through a :class:`Mortal` may be the last of its worker, while the
    budget lasts; half the deaths happen after the call did its work (its answer never used)."""

    def __init__(self, rng: random.Random, budget: int, probability: float, report: Report) -> None:
        self.rng, self.budget, self.probability, self.report = rng, budget, probability, report
        self.lock = threading.Lock()
        self.stall_rng, self.stalls, self.stall_probability = random.Random(), 0, 0.0
        self.stall_seconds: tuple[float, float] = (0.0, 0.0)
        self.losses = 0
        self.crowd_partners: set[int] = set()
        self.pause_rng, self.pauses, self.pause_probability = random.Random(), 0, 0.0
        self.pause_seconds: tuple[float, float] = (0.0, 0.0)
        self.status_property = ""

    def roll(self) -> str | None:
        with self.lock:
            if self.budget <= 0 or self.rng.random() >= self.probability:
                return None
            self.budget -= 1
            self.report.note("workers killed")
            return self.rng.choice(("before", "after"))

    def arm_stalls(
        self, rng: random.Random, budget: int, probability: float, seconds: tuple[float, float]
    ) -> None:
        """After a freee invoice read (the marker lookup), a worker may stall (clock seconds within ``seconds``)."""
        with self.lock:
            self.stall_rng, self.stalls, self.stall_probability = rng, budget, probability
            self.stall_seconds = seconds

    def stall(self) -> float | None:
        with self.lock:
            if self.stalls <= 0 or self.stall_rng.random() >= self.stall_probability:
                return None
            self.stalls -= 1
            self.report.note("workers stalled past their lease")
            return self.stall_rng.uniform(*self.stall_seconds)

    def arm_pauses(
        self,
        rng: random.Random,
        budget: int,
        probability: float,
        seconds: tuple[float, float],
        status_property: str,
    ) -> None:
        """Right before writing a failure onto a deal (``status_property`` failed / invalid), a worker may pause
        (clock seconds within ``seconds``: well inside a lease, so a failure written under a live claim still lands
        before anyone else may claim the deal; one written after the claim was let go may land after the deal's
        invoice was written back)."""
        with self.lock:
            self.pause_rng, self.pauses, self.pause_probability = rng, budget, probability
            self.pause_seconds, self.status_property = seconds, status_property

    def pause(self, updates: Any) -> float | None:
        with self.lock:
            if self.pauses <= 0 or not isinstance(updates, dict):
                return None
            failing = any(
                (values or {}).get(self.status_property) in ("failed", "invalid")
                for values in updates.values()
            )
            if not failing or self.pause_rng.random() >= self.pause_probability:
                return None
            self.pauses -= 1
            self.report.note("failure write-backs paused")
            return self.pause_rng.uniform(*self.pause_seconds)

    def arm_losses(self, partners: set[int], budget: int) -> None:
        """The answers to the first ``budget`` invoices created for these partners are lost (the worker dies)."""
        with self.lock:
            self.crowd_partners, self.losses = set(partners), budget

    def lose_answer(self, request: Any) -> bool:
        with self.lock:
            if self.losses <= 0 or getattr(request, "partner_id", None) not in self.crowd_partners:
                return False
            self.losses -= 1
            self.report.note("crowd answers lost")
            return True


class Mortal:
    """A worker's client or store, through which the worker may die (``Killed``) before or after a call, stall
    past its lease after a freee invoice read (and then go on: the zombie), pause before writing a failure onto a
    deal, or lose freee's answer to a crowd's invoice."""

    def __init__(self, inner: Any, switch: KillSwitch, what: str, clock: Clock) -> None:
        self._inner, self._switch, self._what, self._clock = inner, switch, what, clock

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target) or name.startswith("_"):
            return target
        reads = self._what == "freee" and name in FREEE_READS
        writes_deals = self._what == "hubspot" and name == "update_deals"

        def call(*args: Any, **kwargs: Any) -> Any:
            when = self._switch.roll()
            if when == "before":
                raise Killed(f"{self._what}.{name} (before)")
            pause = self._switch.pause(args[0]) if writes_deals and args else None
            if pause is not None:
                self._clock.sleep(pause)
            result = target(*args, **kwargs)
            if when == "after":
                raise Killed(f"{self._what}.{name} (after)")
            if reads and (stall := self._switch.stall()) is not None:
                self._clock.sleep(stall)
            if name == "create_invoice" and self._what == "freee" and self._switch.lose_answer(args[0]):
                raise Killed("freee.create_invoice (answer lost)")
            return result

        return call


@dataclass(frozen=True)
class StoreKind:
    """A store the storm runs on: its ``storage_url``, how a component opens its own handle on it, and what a call
    raises while it is down."""

    url: str
    open: Callable[[], Any]
    down: Callable[[], Exception]


def sqlite_store(path: Path) -> StoreKind:
    return StoreKind(
        f"sqlite:///{path}", lambda: SQLiteStore(path), lambda: StoreDown("the store is restarting (chaos)")
    )


DYNAMODB_TABLE = "hubspot-freee-chaos"


def dynamodb_store(resource: Any, table: str = DYNAMODB_TABLE) -> StoreKind:
    """DynamoDB under moto: ``resource`` made inside the mock (``tests/conftest.py``'s ``dynamodb`` fixture, whose
    ``aws`` fixture serialises moto's requests: every thread of the storm shares one mocked table)."""
    from botocore.exceptions import EndpointConnectionError

    from sdk.store.dynamodb import DynamoStore, create_table

    create_table(resource, table)
    return StoreKind(
        f"dynamodb://{table}",
        lambda: DynamoStore(table, resource=resource),
        lambda: EndpointConnectionError(endpoint_url="https://dynamodb.ap-northeast-1.amazonaws.com (chaos)"),
    )


class Restartable:
    """The store as every component sees it: it can go down (every call fails) and come back reopened."""

    def __init__(self, kind: StoreKind) -> None:
        self.kind = kind
        self.inner = kind.open()
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if self.down:
            raise self.kind.down()
        target = getattr(self.inner, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise self.kind.down()
            return target(*args, **kwargs)

        return call

    def restart(self) -> None:
        self.inner = self.kind.open()
        self.down = False
