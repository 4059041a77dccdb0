"""A refusal in freee's words, raised anywhere in the sandbox and shaped by the HTTP layer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class FreeeSandboxError(Exception):
    """A refusal in freee's words: the HTTP layer turns it into freee's error shape for the path asked."""

    def __init__(
        self,
        status: int,
        messages: str | Iterable[str],
        kind: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.kind = kind or {400: "validation", 404: "status"}.get(status, "error")
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {'; '.join(self.messages)}")


def _invalid(messages: str | Iterable[str]) -> FreeeSandboxError:
    return FreeeSandboxError(400, messages, "validation")


def _not_found(what: str) -> FreeeSandboxError:
    return FreeeSandboxError(404, f"{what}が見つかりません。", "status")
