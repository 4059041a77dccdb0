"""Fault injection shared by both sandboxes: latency, 429, 5xx, connection reset, and time-out-after-commit.

Faults are chosen per call, by probability (seeded, so a run repeats) or from a script consumed in order. The
sandbox app (wired by :func:`sandbox.admin.install_faults`) decides and answers 429 / 5xx itself; a reset or a
time-out is marked on the response with the header ``X-Sandbox-Fault`` and carried out by the transport
(:mod:`sandbox.transport`): in-process it raises ``requests.ConnectionError`` / ``requests.ReadTimeout``, on
loopback it drops the connection or holds the answer. A reset happens *before* the request is processed (nothing
changes); a time-out-after-commit *after* (the write happened, the caller never hears of it).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FAULT_HEADER = "X-Sandbox-Fault"


class FaultKind(StrEnum):
    LATENCY = "latency"
    RATE_LIMIT = "429"
    SERVER_ERROR = "5xx"
    RESET = "reset"
    TIMEOUT_AFTER_COMMIT = "timeout_after_commit"


@dataclass(frozen=True)
class FaultRule:
    """A fault applied with ``probability`` to calls matching ``methods`` and ``path_prefix`` (None: all)."""

    kind: FaultKind
    probability: float = 1.0
    methods: frozenset[str] | None = None
    path_prefix: str | None = None
    latency_seconds: float = 0.5
    status: int = 503

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        methods = data.get("methods")
        return cls(
            kind=FaultKind(data["kind"]),
            probability=float(data.get("probability", 1.0)),
            methods=frozenset(m.upper() for m in methods) if methods else None,
            path_prefix=data.get("path_prefix"),
            latency_seconds=float(data.get("latency_seconds", 0.5)),
            status=int(data.get("status", 503)),
        )


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    latency_seconds: float = 0.0
    status: int = 503


@dataclass
class FaultInjector:
    seed: int | None = None
    rules: list[FaultRule] = field(default_factory=list)
    history: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._script: deque[tuple[FaultRule | None, str | None, frozenset[str] | None]] = deque()
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self.rules.append(rule)

    def script(
        self, *kinds: FaultKind | str | None, path_prefix: str | None = None, methods: set[str] | None = None
    ) -> None:
        """The next matching calls get these faults in order (``None``: that call goes through untouched)."""
        allowed = frozenset(m.upper() for m in methods) if methods else None
        with self._lock:
            for kind in kinds:
                rule = (
                    None
                    if kind is None
                    else FaultRule(FaultKind(kind), methods=allowed, path_prefix=path_prefix)
                )
                self._script.append((rule, path_prefix, allowed))

    def reset(self, seed: int | None = None) -> None:
        with self._lock:
            self.rules.clear()
            self._script.clear()
            self.history.clear()
            if seed is not None:
                self._rng = random.Random(seed)

    def decide(self, method: str, path: str) -> Fault | None:
        with self._lock:
            fault = self._from_script(method, path)
            if fault is None:
                for rule in self.rules:
                    if rule.matches(method, path) and self._rng.random() < rule.probability:
                        fault = Fault(rule.kind, rule.latency_seconds, rule.status)
                        break
            if fault is not None:
                self.history.append((method.upper(), path, fault.kind.value))
            return fault

    def _from_script(self, method: str, path: str) -> Fault | None:
        for index, (rule, prefix, methods) in enumerate(self._script):
            if (prefix is None or path.startswith(prefix)) and (methods is None or method.upper() in methods):
                del self._script[index]
                return None if rule is None else Fault(rule.kind, rule.latency_seconds, rule.status)
        return None
