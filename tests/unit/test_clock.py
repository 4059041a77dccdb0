"""The demo's clock: real time that jumps forward when told to, and never back."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from sdk.clock import ShiftedClock


def test_advance_moves_now_and_monotonic_together_and_real_time_goes_on():
    clock = ShiftedClock()
    before, ticks = datetime.now(UTC), time.monotonic()
    clock.advance(31 * 86400)
    now, monotonic = clock.now(), clock.monotonic()
    assert before + timedelta(days=31) <= now <= datetime.now(UTC) + timedelta(days=31)
    assert ticks + 31 * 86400 <= monotonic <= time.monotonic() + 31 * 86400
    assert clock.now() >= now and clock.monotonic() >= monotonic


def test_a_shifted_clock_never_goes_back():
    clock = ShiftedClock()
    clock.advance(60)
    with pytest.raises(ValueError, match="never goes back"):
        clock.advance(-1)
    before, now, after = datetime.now(UTC), clock.now(), datetime.now(UTC)
    assert (
        before + timedelta(seconds=60) <= now <= after + timedelta(seconds=60)
    )  # the refused move: no change
