"""OAuth tokens and where they are kept: freee's, and a HubSpot public app's (:mod:`sdk.hubspot.tokens`), each one
versioned row refreshed by one worker at a time.

freee's refresh token is single-use: each refresh returns a new one and the old one then fails with
``invalid_grant``. Losing the new one, or sending the old one twice, disconnects the integration until an operator
authorises it again. So the token row is versioned and refreshed under a claim (:class:`RefreshingTokens`):

1. a worker whose access token has expired *claims* the refresh (a conditional write on the row's version,
   with a short lease),
2. only the claim holder calls the token endpoint, and stores the new pair at once (conditional on the version
   it claimed, which also clears the claim),
3. every other worker waits for the version to change and then uses the new access token.

When the service refuses the refresh token for good (freee's ``invalid_grant``: a refresh whose answer was lost
already used it, or it expired), the row is *marked disconnected* (:meth:`TokenStore.mark_disconnected`, with why
and when): nothing can recover the pair, so every worker stops asking and reports the state until a new pair is
stored (:meth:`TokenStore.save_token` clears the mark). A refresh that got no answer (time-out, 5xx) *releases* its
claim (:meth:`TokenStore.release_refresh`) so the next attempt tries again at once.

A HubSpot access token lives 30 minutes; the same claim keeps its refreshes to one at a time, so many workers
neither stampede HubSpot's token endpoint nor race to store.

:class:`MemoryTokenStore` serves threads of one process; the store's adapters keep each row (by name, one of
:data:`TOKEN_NAMES`) for processes of one machine (:class:`sdk.store.sqlite.SQLiteTokenStore`) or of a deployment
(:class:`sdk.store.dynamodb.DynamoTokenStore`), reached as ``store.tokens`` (freee) and ``store.hubspot_tokens``.
"""

from __future__ import annotations

import json
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Protocol

from sdk.errors import AuthError
from sdk.log import get_logger

#: the token rows a store keeps: freee's, and a HubSpot public app's
TOKEN_NAMES: Final = ("freee", "hubspot")

#: how long freee keeps a refresh token usable after issuing it (リフレッシュトークンの有効期限: 90日; the access
#: token lasts 6 hours): https://developer.freee.co.jp/reference/faq/token_lifetime, since December 2023
#: (https://developer.freee.co.jp/news/6540)
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
#: a refresh token older than this is renewed by the scheduled payment sync, even when no call needed it, so a
#: quiet installation (no won deal, no open invoice for months) does not lose its freee connection
RENEW_REFRESH_TOKEN_AFTER = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class TokenSet:
    """An access token and the refresh token that replaces it. ``repr`` never shows either."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime
    company_id: int | None = None
    scope: str | None = None
    #: when freee issued ``refresh_token`` (``None`` for a pair stored before this was recorded)
    refresh_issued_at: datetime | None = None
    #: a fingerprint of the configured refresh token this pair descends from (HubSpot's ``HUBSPOT_REFRESH_TOKEN``),
    #: so a new one set by the operator replaces the row; ``None`` for freee's pairs
    origin: str | None = None

    @property
    def refresh_expires_at(self) -> datetime | None:
        """When freee stops accepting ``refresh_token`` (unknown when its issue time is)."""
        return self.refresh_issued_at + REFRESH_TOKEN_LIFETIME if self.refresh_issued_at else None

    @classmethod
    def from_grant(cls, body: Mapping[str, Any], now: datetime, *, company_id: int | None = None) -> TokenSet:
        """The pair in a token endpoint's answer (``access_token``, ``refresh_token``, ``expires_in`` seconds,
        optionally ``company_id`` and ``scope``), received at ``now``."""
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            access_expires_at=now + timedelta(seconds=int(body.get("expires_in", 21600))),
            company_id=body.get("company_id", company_id),
            scope=body.get("scope"),
            refresh_issued_at=now,
        )

    def __repr__(self) -> str:
        return (
            f"TokenSet(access_expires_at={self.access_expires_at.isoformat()}, company_id={self.company_id})"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "access_expires_at": self.access_expires_at.isoformat(),
                "company_id": self.company_id,
                "scope": self.scope,
                "refresh_issued_at": self.refresh_issued_at.isoformat() if self.refresh_issued_at else None,
                "origin": self.origin,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        return cls(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            access_expires_at=datetime.fromisoformat(data["access_expires_at"]),
            company_id=data.get("company_id"),
            scope=data.get("scope"),
            refresh_issued_at=(
                datetime.fromisoformat(data["refresh_issued_at"]) if data.get("refresh_issued_at") else None
            ),
            origin=data.get("origin"),
        )


@dataclass(frozen=True, slots=True)
class StoredToken:
    tokens: TokenSet
    version: int
    claim_holder: str | None = None
    claim_until: datetime | None = None
    #: why freee refused this row's refresh token (set by :meth:`TokenStore.mark_disconnected`)
    disconnected_reason: str | None = None
    #: when it was refused; ``None`` while the row is usable
    disconnected_at: datetime | None = None

    def claimed(self, now: datetime) -> bool:
        return self.claim_until is not None and self.claim_until > now

    @property
    def disconnected(self) -> bool:
        return self.disconnected_at is not None


class TokenStore(Protocol):
    """The port: one token row, versioned."""

    def load_token(self) -> StoredToken | None:
        """The current row, or ``None`` when freee was never connected."""
        ...

    def claim_refresh(self, version: int, holder: str, now: datetime, until: datetime) -> bool:
        """Claim the refresh of row ``version`` until ``until``; False if the version moved or a live claim exists."""
        ...

    def save_token(self, tokens: TokenSet, expected_version: int | None) -> StoredToken | None:
        """Store ``tokens`` as version ``expected_version + 1`` (the first row when ``None``), clearing any claim
        and any disconnected mark.

        Returns the new row, or ``None`` when the row is no longer at ``expected_version``.
        """
        ...

    def release_refresh(self, version: int, holder: str) -> None:
        """Give back ``holder``'s claim on row ``version`` (its refresh got no answer); nothing otherwise."""
        ...

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        """Mark row ``version`` disconnected (freee refused its refresh token) since ``at``, clearing any claim.

        False when the row moved on (a newer pair was stored meanwhile) or is absent. A row already marked keeps
        its first reason and time (True).
        """
        ...


class MemoryTokenStore:
    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._lock = threading.Lock()
        self._row: StoredToken | None = StoredToken(tokens, 1) if tokens else None

    def load_token(self) -> StoredToken | None:
        with self._lock:
            return self._row

    def claim_refresh(self, version: int, holder: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            row = self._row
            if row is None or row.version != version or row.claimed(now):
                return False
            self._row = replace(row, claim_holder=holder, claim_until=until)
            return True

    def save_token(self, tokens: TokenSet, expected_version: int | None) -> StoredToken | None:
        with self._lock:
            current = self._row.version if self._row else None
            if current != expected_version:
                return None
            self._row = StoredToken(tokens, (current or 0) + 1)
            return self._row

    def release_refresh(self, version: int, holder: str) -> None:
        with self._lock:
            row = self._row
            if row is not None and row.version == version and row.claim_holder == holder:
                self._row = replace(row, claim_holder=None, claim_until=None)

    def mark_disconnected(self, version: int, reason: str, at: datetime) -> bool:
        with self._lock:
            row = self._row
            if row is None or row.version != version:
                return False
            if not row.disconnected:
                self._row = replace(
                    row, claim_holder=None, claim_until=None, disconnected_reason=reason, disconnected_at=at
                )
            return True


class RefreshingTokens(ABC):
    """Hands out a valid access token of one token row; refreshes it at most once across all workers sharing the
    store.

    States of the row: *usable* (an access token is handed out, refreshed under a claim ``skew`` seconds before it
    expires), *disconnected* (the service refused the refresh token for good: the subclass's error at once, the
    service is not asked again) until :meth:`connect` stores a new pair. A refresh that got no answer leaves the
    row as it is and releases its claim: the next call tries again.

    What differs between services is in a subclass: :meth:`_refreshed` (the token endpoint), :meth:`_revoked`
    (which refusal ends the pair, and why), :meth:`_not_connected`, :meth:`_disconnected` and :meth:`_error` (the
    errors); ``service`` names its log events (``{service}_token_refreshed``, ``…_token_refresh_rejected``).
    """

    service: ClassVar[str]

    def __init__(
        self,
        store: TokenStore,
        clock: Any,
        *,
        skew: float = 60.0,
        lease: float = 30.0,
        poll: float = 0.05,
        max_wait: float = 60.0,
    ) -> None:
        self.store, self.clock = store, clock
        self.skew, self.lease, self.poll, self.max_wait = skew, lease, poll, max_wait
        self.holder = f"worker-{uuid.uuid4().hex[:12]}"

    def access_token(self, *, rejected: str | None = None) -> str:
        """A usable access token. ``rejected``: the token the service just answered 401 to (refresh unless the
        store already holds a newer one)."""
        waited = 0.0
        while True:
            row = self._connected_row()
            now = self.clock.now()
            stale = rejected is not None and row.tokens.access_token == rejected
            if not stale and row.tokens.access_expires_at - timedelta(seconds=self.skew) > now:
                return row.tokens.access_token
            if self._claim(row, now):
                token = self._refresh(row)
                if token is not None:
                    return token
                continue  # a newer pair was stored while ours was refused: use it
            if waited >= self.max_wait:
                raise self._error(
                    f"another worker has held the {self.service} token refresh for {waited:.0f}s; try again"
                )
            self.clock.sleep(self.poll)
            waited += self.poll

    def connect(self, tokens: TokenSet) -> StoredToken:
        """Store a first pair, replacing whatever was there (a disconnected row included: the installation is
        connected again)."""
        current = self.store.load_token()
        saved = self.store.save_token(tokens, expected_version=current.version if current else None)
        if saved is None:
            raise self._error(f"the {self.service} token row changed while connecting; run setup again")
        return saved

    def _connected_row(self) -> StoredToken:
        """The stored row; the subclass's errors when there is none, or it is disconnected."""
        row = self.store.load_token()
        if row is None:
            raise self._not_connected()
        if row.disconnected:
            raise self._disconnected(row)
        return row

    def _claim(self, row: StoredToken, now: datetime) -> bool:
        """Take the refresh of ``row`` for ``lease`` seconds; False when it moved on or another holds it."""
        return self.store.claim_refresh(row.version, self.holder, now, now + timedelta(seconds=self.lease))

    def _refresh(self, row: StoredToken) -> str | None:
        """Refresh ``row`` (whose claim we hold): the new access token, or ``None`` when the service refused the
        refresh token but the row had already moved on to a newer pair (the caller uses that one)."""
        log = get_logger()
        try:
            tokens = self._refreshed(row.tokens)
        except AuthError as refused:
            log.error({"event": f"{self.service}_token_refresh_rejected", "version": row.version})
            reason = self._revoked(refused)
            if reason is None:
                self.store.release_refresh(row.version, self.holder)
                raise
            if not self.store.mark_disconnected(row.version, reason, self.clock.now()):
                return None
            current = self.store.load_token()
            raise self._disconnected(
                current if current is not None and current.disconnected else row
            ) from None
        except Exception:
            # no answer (or 5xx): the service may or may not have used the refresh token; let the next call find out
            self.store.release_refresh(row.version, self.holder)
            raise
        saved = self.store.save_token(tokens, expected_version=row.version)
        if saved is None:
            # our lease ran out and the row moved on; the pair we hold is still the newest the service issued
            current = self.store.load_token()
            saved = self.store.save_token(tokens, expected_version=current.version if current else None)
        log.info({"event": f"{self.service}_token_refreshed", "version": saved.version if saved else None})
        return tokens.access_token

    # -- what a service fills in -------------------------------------------------------------------------------

    @abstractmethod
    def _refreshed(self, current: TokenSet) -> TokenSet:
        """The pair the token endpoint answers for ``current.refresh_token``."""

    @abstractmethod
    def _revoked(self, refused: AuthError) -> str | None:
        """Why ``refused`` ends the pair for good (the row is then marked disconnected), else ``None``."""

    @abstractmethod
    def _not_connected(self) -> Exception:
        """The service's error for a store that holds no token row yet (never connected)."""

    @abstractmethod
    def _disconnected(self, row: StoredToken) -> Exception:
        """The service's error for a row marked disconnected (since when, why, and the fix)."""

    @abstractmethod
    def _error(self, message: str) -> Exception:
        """The service's auth error saying ``message`` (the refresh is held too long, the row changed)."""
