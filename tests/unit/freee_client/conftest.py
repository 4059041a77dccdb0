"""A freee client over ``responses`` on a fake clock, with a token pair in memory."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import requests

from sdk.clock import FakeClock
from sdk.freee.client import FreeeClient, RetryPolicy
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.freee.ratelimit import MemoryRateLimitStore, RateLimiter
from sdk.freee.tokens import MemoryTokenStore, TokenSet
from tests.unit.freee_client.world import API, AUTH


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    return MemoryTokenStore(TokenSet("access-1", "refresh-1", clock.now() + timedelta(hours=6), company_id=1))


@pytest.fixture
def client(clock, store):
    session = requests.Session()
    oauth = OAuthClient(
        auth_base=AUTH,
        client_id="cid",
        client_secret="csecret-canary",
        redirect_uri="urn:x",
        session=session,
        clock=clock,
    )
    return FreeeClient(
        api_base=API,
        company_id=1,
        tokens=TokenManager(store, oauth, clock),
        limiter=RateLimiter(MemoryRateLimitStore(), clock, [(30, 60.0)]),
        clock=clock,
        session=session,
        retry=RetryPolicy(max_attempts=4, rng=random.Random(7)),
    )
