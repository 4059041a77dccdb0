"""The error hierarchy every handler maps once to HTTP statuses, workflow states, deal properties and exit codes.

Every exception this project raises on purpose derives from :class:`HubSpotFreeeError`. The kinds shared by
more than one module live here; each vendor's own live in its client package (:mod:`sdk.freee.errors`,
:mod:`sdk.hubspot.errors`), and a module may keep one for its own control flow (derived from the base all the
same: ``tests/unit/test_errors.py`` holds every module to it).

``ValidationFailed`` carries *every* problem found (not just the first), each with a stable code, the field it
concerns and a message in Japanese and English, so the same object can be written onto a HubSpot deal, returned
as a JSON body or printed by the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a deal cannot be invoiced."""

    code: str
    field: str
    ja: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "ja": self.ja, "en": self.en}

    def line(self) -> str:
        """One human line in both languages, as written to ``freee_sync_error`` / ``freee_sync_warning``."""
        return f"[{self.code}] {self.ja} / {self.en}"


def lines(problems: Iterable[Problem]) -> str:
    """Problems one per line, Japanese then English: what a deal property holds ("" for none)."""
    return "\n".join(p.line() for p in problems)


class HubSpotFreeeError(Exception):
    """Base class of every error this package raises on purpose."""


class SettingsError(HubSpotFreeeError):
    """A setting is missing or has a bad value; the message names each one and how to set it."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "Configuration problem / 設定に問題があります:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


class ValidationFailed(HubSpotFreeeError):
    """The input cannot become a freee invoice. Terminal for this attempt; carries every problem, and the warnings
    found beside them (what would not stop the invoice)."""

    def __init__(self, problems: Iterable[Problem], warnings: Iterable[Problem] = ()) -> None:
        self.problems = tuple(problems)
        self.warnings = tuple(warnings)
        if not self.problems:
            raise ValueError("ValidationFailed needs at least one problem")
        super().__init__("; ".join(p.line() for p in self.problems))

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def summary(self) -> str:
        """All problems, one per line, Japanese then English: what the rep reads on the deal."""
        return lines(self.problems)


class Retryable(HubSpotFreeeError):
    """A transient failure (429, 5xx, timeout): try again later, ideally after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Conflict(HubSpotFreeeError):
    """Two records claim the same thing (e.g. two HubSpot companies for one freee partner)."""


class AuthError(HubSpotFreeeError):
    """Credentials are missing, expired or revoked; an operator must act."""


class ForeignPortal(HubSpotFreeeError):
    """A request, message or command names a HubSpot portal other than this installation's (``HUBSPOT_PORTAL_ID``).
    Refused before any read or write (:mod:`sdk.tenant`); never retried. ``ja`` / ``en`` name only the portal
    received (they may go back to the caller); ``configured`` is for logs and the operator."""

    def __init__(self, received: int, configured: int) -> None:
        self.received = received
        self.configured = configured
        self.ja = f"ポータル {received} はこのインストールのHubSpotポータルではないため、処理しません。"
        self.en = f"portal {received} is not this installation's HubSpot portal; refused"
        super().__init__(f"{self.ja} / {self.en} (HUBSPOT_PORTAL_ID={configured})")


class NotANumber(HubSpotFreeeError, ValueError):
    """The text is not a finite decimal number (:mod:`sdk.money`); a ``ValueError`` too, for pydantic."""


class SignatureRejected(HubSpotFreeeError):
    """The request is not proven to come from HubSpot (or from our snippet): answer 401 (:mod:`sdk.signatures`)."""


class DefinitionFileError(HubSpotFreeeError):
    """A workflow action definition file cannot be read or is not a definition; the message names the file and
    the problem (:mod:`sdk.usecases.register_actions`)."""


# --------------------------------------------------------------------------------------------------------------
# one deal, one attempt at a time: the claim and its lease
# --------------------------------------------------------------------------------------------------------------


class ClaimLost(HubSpotFreeeError):
    """The worker's claim on a deal expired and another worker took it over: stop, do not write (raised by
    :class:`sdk.store.Store`)."""


class DealBusy(Retryable):
    """Another worker holds this deal right now; try again after ``retry_after`` seconds."""


class LeaseLost(DealBusy):
    """This attempt's claim passed to another attempt while it waited (for the rate limit, a back-off, a token
    refresh, or freee's answer): it stops; the attempt holding the deal says how it went."""


class LeaseTooShort(Retryable):
    """Too little of the lease is left to send a freee write and record its answer: nothing was sent."""


class ScheduleConflict(HubSpotFreeeError):
    """Another writer saved a deal's billing schedule since this one read it (raised by
    :meth:`sdk.store.Schedules.save_schedule`, whose write is conditioned on the version read): nothing was
    written; read the schedule again and redo the change on what is stored now. ``expected`` is the version this
    write started from (0: none stored), ``found`` the one stored when the write was refused (None: none is)."""

    def __init__(self, portal_id: int, deal_id: str, expected: int, found: int | None) -> None:
        self.portal_id = portal_id
        self.deal_id = deal_id
        self.expected = expected
        self.found = found
        started = f"version {expected}" if expected else "no schedule stored"
        stored = "none is stored" if found is None else f"version {found} is stored"
        super().__init__(
            f"deal {deal_id} (portal {portal_id}): the billing schedule was saved by another writer first "
            f"(this write started from {started}, {stored} now); nothing was written: read it again and redo "
            "the change"
        )


class PartnerConflict(Conflict):
    """The deal's company cannot be matched to one freee partner; ``problem`` says why (ja + en)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.line())
