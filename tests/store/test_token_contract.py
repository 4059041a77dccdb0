"""The token port (``store.tokens``, ``store.hubspot_tokens``) over every adapter (SQLite, DynamoDB under moto): a
versioned row, one refresh claim at a time, the disconnected mark, freee's and HubSpot's rows apart; and a SQLite
file made before that mark was kept."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from sdk.freee.tokens import TokenSet
from sdk.store import (
    Store,
)
from tests.store.records import NOW

# -------------------------------------------------------------------------------- tokens (store.tokens)


def tokens(n: int) -> TokenSet:
    return TokenSet(
        f"access-{n}",
        f"refresh-{n}",
        NOW + timedelta(hours=6),
        company_id=1,
        scope="read write",
        refresh_issued_at=NOW - timedelta(days=n),
    )


def test_token_rows_are_versioned(store: Store) -> None:
    port = store.tokens
    assert port.load_token() is None
    first = port.save_token(tokens(1), expected_version=None)
    assert first is not None
    assert first.version == 1
    assert port.save_token(tokens(9), expected_version=None) is None  # someone else connected first
    second = port.save_token(tokens(2), expected_version=1)
    assert second is not None
    assert second.version == 2
    assert port.save_token(tokens(3), expected_version=1) is None  # stale writer loses
    row = port.load_token()
    assert row is not None
    assert (row.version, row.tokens) == (2, tokens(2))


def test_one_token_refresh_claim_at_a_time_until_the_lease_ends(store: Store) -> None:
    port = store.tokens
    assert not port.claim_refresh(1, "a", NOW, NOW + timedelta(seconds=30))  # never connected
    port.save_token(tokens(1), expected_version=None)
    until = NOW + timedelta(seconds=30)
    assert port.claim_refresh(1, "a", NOW, until)
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until) == ("a", until)
    assert not port.claim_refresh(1, "b", NOW + timedelta(seconds=10), until)
    assert not port.claim_refresh(2, "b", NOW, until)  # wrong version
    assert port.claim_refresh(1, "b", NOW + timedelta(seconds=31), NOW + timedelta(seconds=61))  # lease over
    saved = port.save_token(tokens(2), expected_version=1)
    assert saved is not None
    assert saved.claim_holder is None
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until) == (None, None)
    assert port.claim_refresh(2, "c", NOW, until)  # saving cleared the claim


def test_token_refresh_claims_are_exclusive_across_threads(store: Store) -> None:
    store.tokens.save_token(tokens(1), expected_version=None)
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        barrier.wait()
        if store.tokens.claim_refresh(1, name, NOW, NOW + timedelta(seconds=30)):
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_a_refresh_claim_is_released_only_by_its_holder_at_its_version(store: Store) -> None:
    port = store.tokens
    port.release_refresh(1, "a")  # no row: nothing happens
    port.save_token(tokens(1), expected_version=None)
    until = NOW + timedelta(seconds=30)
    assert port.claim_refresh(1, "a", NOW, until)
    port.release_refresh(1, "b")  # not the holder
    port.release_refresh(2, "a")  # not the version
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until) == ("a", until)
    port.release_refresh(1, "a")
    row = port.load_token()
    assert row is not None
    assert (row.claim_holder, row.claim_until, row.version) == (None, None, 1)
    assert port.claim_refresh(1, "b", NOW, until)  # claimable again at once, not after the lease


def test_a_disconnected_row_keeps_its_first_reason_until_a_new_pair_is_saved(store: Store) -> None:
    port = store.tokens
    assert not port.mark_disconnected(1, "refused", NOW)  # never connected
    port.save_token(tokens(1), expected_version=None)
    assert port.claim_refresh(1, "a", NOW, NOW + timedelta(seconds=30))
    assert not port.mark_disconnected(2, "refused", NOW)  # another version
    reason = "freee refused the refresh token (invalid_grant) / リフレッシュトークンが拒否されました"
    assert port.mark_disconnected(1, reason, NOW)
    assert port.mark_disconnected(1, "later", NOW + timedelta(hours=1))  # already marked: the first is kept
    row = port.load_token()
    assert row is not None
    assert (row.disconnected, row.disconnected_reason, row.disconnected_at) == (True, reason, NOW)
    assert (row.claim_holder, row.claim_until, row.version, row.tokens) == (None, None, 1, tokens(1))
    saved = port.save_token(tokens(2), expected_version=1)  # setup freee: connected again
    assert saved is not None
    assert (saved.version, saved.disconnected) == (2, False)
    row = port.load_token()
    assert row is not None
    assert (row.disconnected, row.disconnected_reason, row.disconnected_at) == (False, None, None)


def test_a_token_file_made_before_the_disconnected_state_opens_and_keeps_its_pair(tmp_path: Any) -> None:
    import sqlite3

    from sdk.store.sqlite import SQLiteTokenStore

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE freee_token (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL,"
            " version INTEGER NOT NULL, claim_holder TEXT, claim_until TEXT)"
        )
        db.execute("INSERT INTO freee_token VALUES (1, ?, 3, NULL, NULL)", (tokens(1).to_json(),))
    port = SQLiteTokenStore(path)
    SQLiteTokenStore(path)  # a second process opening it adds nothing twice
    row = port.load_token()
    assert row is not None
    assert (row.version, row.tokens, row.disconnected) == (3, tokens(1), False)
    assert port.mark_disconnected(3, "refused", NOW)
    row = port.load_token()
    assert row is not None and row.disconnected_at == NOW


def test_the_hubspot_row_is_kept_apart_from_freees(store: Store) -> None:
    freee, hubspot = store.tokens, store.hubspot_tokens
    seeded = TokenSet("", "hubspot-refresh", NOW, origin="f1")
    assert hubspot.save_token(seeded, expected_version=None) is not None
    assert freee.load_token() is None  # a HubSpot row is not a freee connection
    assert freee.save_token(tokens(1), expected_version=None) is not None
    assert hubspot.claim_refresh(1, "h", NOW, NOW + timedelta(seconds=30))
    assert freee.claim_refresh(1, "f", NOW, NOW + timedelta(seconds=30))  # each row its own claim
    assert hubspot.mark_disconnected(1, "revoked", NOW)
    row, other = hubspot.load_token(), freee.load_token()
    assert row is not None and other is not None
    assert (row.tokens, row.disconnected, row.tokens.origin) == (seeded, True, "f1")
    assert (other.tokens, other.disconnected, other.claim_holder) == (tokens(1), False, "f")


def test_a_token_row_has_one_of_the_known_names(tmp_path: Any) -> None:
    from sdk.store.sqlite import SQLiteTokenStore

    with pytest.raises(ValueError, match="not a token name"):
        SQLiteTokenStore(tmp_path / "x.sqlite", "freee_token; DROP TABLE ledger")
