"""The in-memory token and rate-limit stores, the limiter over them, the rate-limit bound, and the compact call
log the DynamoDB store keeps (held to the exact log's answers, or a bucket more).

The SQLite and DynamoDB adapters of the same ports (``store.tokens``, ``store.rate_limits``) are held to these
rules, threads included, by the store contract suites (``tests/store/test_token_contract.py``,
``tests/store/test_rate_limit_contract.py``).
"""

from __future__ import annotations

import random
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from sdk.clock import FakeClock
from sdk.freee.ratelimit import (
    EXACT_CALLS,
    LOG_BUCKETS,
    CompactCallLog,
    MemoryRateLimitStore,
    RateLimiter,
    shortest_span,
    wait_seconds,
)
from sdk.freee.tokens import MemoryTokenStore, TokenSet

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def tokens(n: int) -> TokenSet:
    return TokenSet(f"access-{n}", f"refresh-{n}", NOW + timedelta(hours=6), company_id=1, scope="read write")


@pytest.fixture
def token_store():
    return MemoryTokenStore()


@pytest.fixture
def rate_store():
    return MemoryRateLimitStore()


def test_token_rows_are_versioned(token_store):
    assert token_store.load_token() is None
    first = token_store.save_token(tokens(1), expected_version=None)
    assert first.version == 1
    assert token_store.save_token(tokens(9), expected_version=None) is None  # someone else connected first
    second = token_store.save_token(tokens(2), expected_version=1)
    assert second.version == 2
    assert token_store.save_token(tokens(3), expected_version=1) is None  # stale writer loses
    row = token_store.load_token()
    assert (row.version, row.tokens.refresh_token) == (2, "refresh-2")


def test_one_claim_at_a_time_until_the_lease_ends(token_store):
    token_store.save_token(tokens(1), expected_version=None)
    until = NOW + timedelta(seconds=30)
    assert token_store.claim_refresh(1, "a", NOW, until)
    assert not token_store.claim_refresh(1, "b", NOW + timedelta(seconds=10), until)
    assert not token_store.claim_refresh(2, "b", NOW, until)  # wrong version
    assert token_store.claim_refresh(
        1, "b", NOW + timedelta(seconds=31), NOW + timedelta(seconds=61)
    )  # lease over
    saved = token_store.save_token(tokens(2), expected_version=1)
    assert saved.claim_holder is None
    assert token_store.claim_refresh(2, "c", NOW, until)  # saving cleared the claim


def test_a_refresh_claim_is_released_only_by_its_holder_at_its_version(token_store):
    token_store.save_token(tokens(1), expected_version=None)
    until = NOW + timedelta(seconds=30)
    assert token_store.claim_refresh(1, "a", NOW, until)
    token_store.release_refresh(1, "b")  # not the holder
    token_store.release_refresh(2, "a")  # not the version
    assert token_store.load_token().claim_holder == "a"
    token_store.release_refresh(1, "a")
    assert (token_store.load_token().claim_holder, token_store.load_token().claim_until) == (None, None)
    assert token_store.claim_refresh(1, "b", NOW, until)  # claimable again at once


def test_a_disconnected_mark_keeps_its_first_reason_until_a_new_pair_is_saved(token_store):
    assert not token_store.mark_disconnected(1, "refused", NOW)  # never connected
    token_store.save_token(tokens(1), expected_version=None)
    token_store.claim_refresh(1, "a", NOW, NOW + timedelta(seconds=30))
    assert not token_store.mark_disconnected(2, "refused", NOW)  # not this version
    assert token_store.mark_disconnected(1, "refused", NOW)
    assert token_store.mark_disconnected(1, "later", NOW + timedelta(hours=1))  # already marked: kept
    row = token_store.load_token()
    assert (row.disconnected, row.disconnected_reason, row.disconnected_at) == (True, "refused", NOW)
    assert (row.claim_holder, row.version, row.tokens) == (None, 1, tokens(1))
    saved = token_store.save_token(tokens(2), expected_version=1)
    assert (saved.version, saved.disconnected) == (2, False)
    assert token_store.load_token().disconnected_reason is None


def test_token_set_round_trips_and_hides_secrets():
    pair = tokens(7)
    assert TokenSet.from_json(pair.to_json()) == pair
    assert "access-7" not in repr(pair)
    assert "refresh-7" not in repr(pair)


def test_sliding_window_admits_the_limit_then_says_how_long_to_wait(rate_store):
    windows = [(3, 60.0)]
    assert [rate_store.try_acquire("k", windows, t) for t in (0.0, 1.0, 2.0)] == [0, 0, 0]
    assert rate_store.try_acquire("k", windows, 3.0) == pytest.approx(57.0)
    assert rate_store.try_acquire("other", windows, 3.0) == 0  # keys are separate
    assert rate_store.try_acquire("k", windows, 60.5) == 0  # the call at 0.0 left the window
    assert rate_store.try_acquire("k", windows, 60.6) == pytest.approx(0.4)


def test_every_window_must_have_room(rate_store):
    windows = [(2, 10.0), (3, 100.0)]
    assert rate_store.try_acquire("k", windows, 0.0) == 0
    assert rate_store.try_acquire("k", windows, 1.0) == 0
    assert rate_store.try_acquire("k", windows, 2.0) == pytest.approx(8.0)  # minute-like window full
    assert rate_store.try_acquire("k", windows, 10.5) == 0
    assert rate_store.try_acquire("k", windows, 20.0) == pytest.approx(80.0)  # hour-like window full


@pytest.mark.parametrize(("margin", "ratio"), [(0.0, 1.0), (1.0, 61 / 60)])
def test_limiter_spaces_calls_to_the_bound(rate_store, margin, ratio):
    clock = FakeClock()
    limiter = RateLimiter(rate_store, clock, [(30, 60.0)], margin=margin)
    start = clock.monotonic()
    for _ in range(300):
        limiter.acquire()
    elapsed = clock.monotonic() - start
    bound = (300 / 30 - 1) * 60  # ten full windows: the last 30 calls may start at 9 minutes
    assert elapsed == pytest.approx(bound * ratio, abs=0.1)


def test_limiter_refuses_meaningless_windows():
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(MemoryRateLimitStore(), FakeClock(), [(0, 60.0)])
    with pytest.raises(ValueError, match="margin"):
        RateLimiter(MemoryRateLimitStore(), FakeClock(), [(1, 60.0)], margin=-1)


@pytest.mark.parametrize(
    ("calls", "span"),
    [
        (0, 0.0),
        (1, 0.0),
        (30, 0.0),
        (31, 60.0),
        (101, 180.0),
        (300, 540.0),
        (1501, 3600.0),
        (2001, 4560.0),
        (3001, 7200.0),
    ],
)
def test_shortest_span_under_freees_limits(calls, span):
    assert shortest_span(calls) == span


@pytest.mark.parametrize(
    ("windows", "calls", "span"),
    [
        (((3, 10.0),), 7, 20.0),
        # the longer window's wait comes on top of the shorter's: 110, where either alone would allow 100
        (((3, 10.0), (7, 100.0)), 11, 110.0),
        (((3, 10.0), (7, 100.0)), 16, 200.0),
    ],
)
def test_shortest_span_is_what_the_limiter_allows_on_a_fake_clock(windows, calls, span):
    clock = FakeClock()
    limiter = RateLimiter(MemoryRateLimitStore(), clock, windows, margin=0.0)
    start = clock.monotonic()
    for _ in range(calls):
        limiter.acquire()
    assert shortest_span(calls, windows) == span
    assert clock.monotonic() - start == pytest.approx(span, abs=0.05)


# ------------------------------------------------------------------ the compact log (DynamoDB's item, issue 14)


def exact_answers(windows, asks):
    exact = MemoryRateLimitStore()
    return [exact.try_acquire("k", windows, now) for now in asks]


def busy_asks(seed: int, count: int, spread: float) -> list[float]:
    """Asks in time order, some bunched (most are told to wait), some spread out."""
    rng = random.Random(seed)
    now, asks = 1_795_597_200.0, []
    for _ in range(count):
        now += rng.choice((0.0, 0.01, rng.random() * spread))
        asks.append(round(now, 6))
    return asks


@pytest.mark.parametrize("seed", range(5))
def test_compact_log_answers_as_the_exact_log_while_windows_allow_at_most_exact_calls(seed):
    windows = [(30, 61.0), (EXACT_CALLS, 601.0)]
    asks = busy_asks(seed, 3000, 10.0)
    log = CompactCallLog()
    answers = [log.try_acquire(windows, now) for now in asks]
    assert answers == pytest.approx(exact_answers(windows, asks), abs=1e-6)
    assert len(log.calls) <= EXACT_CALLS


@pytest.mark.parametrize("seed", range(5))
def test_compact_log_never_admits_what_the_exact_log_refuses_and_waits_at_most_a_bucket_longer(seed):
    windows = [(30, 61.0), (1500, 3601.0)]
    bucket = windows[-1][1] / LOG_BUCKETS
    log = CompactCallLog()
    admitted: deque[float] = deque()  # what the compact log let through, inside the longest window
    for now in busy_asks(seed, 8000, 4.0):
        while admitted and admitted[0] <= now - windows[-1][1]:
            admitted.popleft()
        exact = wait_seconds(admitted, windows, now)  # what the exact log of the same calls says
        wait = log.try_acquire(windows, now)
        if wait <= 0:
            assert exact <= 0, f"admitted at {now} though the window is full"
            admitted.append(now)
        else:
            assert exact - 1e-6 <= wait <= exact + bucket + 1e-6
    assert len(log.calls) <= EXACT_CALLS
    assert len(log.counts) <= LOG_BUCKETS + 2


def test_compact_log_stays_the_same_size_for_any_limits():
    log = CompactCallLog()
    windows = [(EXACT_CALLS, 61.0), (10**9, 3601.0)]
    for now in busy_asks(7, 20_000, 2.0):
        log.try_acquire(windows, now)
        assert len(log.calls) <= EXACT_CALLS
        assert len(log.counts) <= LOG_BUCKETS + 2


def test_compact_log_keeps_its_promise_when_the_windows_change():
    log = CompactCallLog()
    first, then = [(5, 10.0), (100, 600.0)], [(5, 10.0), (100, 300.0)]
    admitted = []
    for windows, asks in (
        (first, busy_asks(1, 3000, 3.0)),
        (then, [t + 3600 for t in busy_asks(2, 3000, 3.0)]),
    ):
        for now in asks:
            if log.try_acquire(windows, now) <= 0:
                admitted.append(now)
    for limit, length in then:  # the later windows, over every call including those let through before
        for i in range(len(admitted) - limit):
            assert admitted[i + limit] - admitted[i] >= length
