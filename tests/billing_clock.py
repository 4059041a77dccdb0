"""A world on a fake clock that starts 2027-01-01 10:00 in Tokyo, moved day by day: how the billing tests (schedules,
consolidated invoices, many invoices per deal) live through months in a second."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

from local.world import World, build_world
from sdk.clock import FakeClock
from sdk.store import Store

PORTAL = 24681357
JAN_1 = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo


def clocked_world(store: Store) -> Iterator[World]:
    """For a ``world`` fixture: the world on a fake clock at :data:`JAN_1`, closed afterwards."""
    w = build_world(store, clock=FakeClock(JAN_1))
    yield w
    w.close()


def advance_to(world: World, day: date) -> None:
    """The clock to 10:00 in Tokyo on ``day`` (never backwards)."""
    clock = world.clock
    assert isinstance(clock, FakeClock)
    target = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    clock.advance((target - clock.now()).total_seconds())
