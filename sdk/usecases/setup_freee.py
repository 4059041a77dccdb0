"""Connect freee: the OAuth 2.0 authorization-code flow with a callback server on loopback (``setup freee``).

The steps, as an operator sees them:

1. a local server listens on ``http://127.0.0.1:PORT/callback`` (the redirect URI registered in the freee app),
2. the browser opens freee's consent page (``/public_api/authorize`` with a random ``state``),
3. freee sends the browser back to the local server with a ``code`` (or ``error=access_denied``); the ``state``
   must be the one we sent, else the answer is refused (it did not come from our request),
4. the code is exchanged for tokens (:class:`~sdk.freee.oauth.OAuthClient`), and the pair is stored in the same
   token store the worker uses (versioned, :class:`~sdk.freee.oauth.TokenManager.connect`),
5. the companies the user can access are listed (``GET /api/1/companies``) and one is chosen; its id becomes
   ``FREEE_COMPANY_ID`` (written into the TOML settings file when one is in use, without touching other keys).

Nothing here prints a token: the pair goes from freee's answer straight into the store.
"""

from __future__ import annotations

import html
import os
import re
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

import requests

from sdk.clock import Clock, SystemClock
from sdk.freee.client import Company, FreeeClient
from sdk.freee.errors import FreeeAuthError, SetupFailed
from sdk.freee.oauth import OAuthClient, TokenManager
from sdk.settings import CONFIG_ENV, config_path

if TYPE_CHECKING:
    from sdk.freee.ratelimit import RateLimitStore
    from sdk.freee.tokens import StoredToken, TokenStore
    from sdk.settings import Settings

OOB_REDIRECT: Final = "urn:ietf:wg:oauth:2.0:oob"
DEFAULT_PORT: Final = 8765
CALLBACK_PATH: Final = "/callback"
LOOPBACK_HOSTS: Final = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "[::1]": "::1"}
REGISTER_HINT: Final = (
    "register it as a callback URL of the app in the freee app store (開発 → アプリ管理 → コールバックURL) and set "
    "FREEE_REDIRECT_URI to exactly the same value / freeeアプリストアのアプリ管理でコールバックURLとして登録し、"
    "FREEE_REDIRECT_URI に同じ値を設定してください"
)


# --------------------------------------------------------------------------------------------------------------
# the redirect URI
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoopbackRedirect:
    """Where freee sends the browser back: ``http://HOST:PORT/PATH`` on this machine."""

    host: str  # as written in the URI (127.0.0.1, localhost, [::1])
    port: int  # 0: any free port (tests)
    path: str

    @property
    def bind_host(self) -> str:
        return LOOPBACK_HOSTS[self.host]

    def uri(self, port: int | None = None) -> str:
        return f"http://{self.host}:{self.port if port is None else port}{self.path}"


def loopback_redirect(configured: str, port: int | None = None) -> LoopbackRedirect:
    """The callback to listen on, from ``FREEE_REDIRECT_URI`` (and ``--port``).

    The default (``urn:ietf:wg:oauth:2.0:oob``, copy-the-code) becomes ``http://127.0.0.1:8765/callback``; a
    loopback ``http://`` URI is used as it is (``port`` replaces its port); anything else cannot receive the
    browser here and is refused with what to set instead."""
    if port is not None and not 0 <= port <= 65535:
        raise SetupFailed(f"--port {port} is not a port (0-65535) / ポート番号が不正です")
    if configured.strip() == OOB_REDIRECT:
        return LoopbackRedirect("127.0.0.1", DEFAULT_PORT if port is None else port, CALLBACK_PATH)
    parts = urlsplit(configured.strip())
    host = (parts.netloc.rsplit(":", 1)[0] if re.search(r":\d+$", parts.netloc) else parts.netloc).lower()
    if parts.scheme != "http" or host not in LOOPBACK_HOSTS or parts.query or parts.fragment:
        suggestion = f"http://127.0.0.1:{port or DEFAULT_PORT}{CALLBACK_PATH}"
        raise SetupFailed(
            f"FREEE_REDIRECT_URI={configured} cannot reach this machine's browser callback; `setup freee` needs "
            f"a loopback URI such as {suggestion}: {REGISTER_HINT} / FREEE_REDIRECT_URI はこのマシンのループバック"
            f"（例: {suggestion}）にしてください"
        )
    try:
        given = parts.port
    except ValueError:
        raise SetupFailed(
            f"FREEE_REDIRECT_URI={configured}: the port is not a number / ポートが不正です"
        ) from None
    chosen = port if port is not None else (given if given is not None else 80)
    return LoopbackRedirect(host, chosen, parts.path or "/")


# --------------------------------------------------------------------------------------------------------------
# the callback server
# --------------------------------------------------------------------------------------------------------------

_PAGE = (
    '<!doctype html><html lang="ja"><meta charset="utf-8"><title>hubspot-freee</title>'
    '<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{body}</p></body></html>'
)


@dataclass
class _Outcome:
    code: str | None = None
    error: SetupFailed | None = None
    done: threading.Event = field(default_factory=threading.Event)


class CallbackServer:
    """A one-shot HTTP server on loopback that receives freee's redirect and checks its ``state``."""

    def __init__(self, redirect: LoopbackRedirect) -> None:
        self.redirect = redirect
        self.expected_state: str | None = None
        self._outcome = _Outcome()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != outer.redirect.path or outer._outcome.done.is_set():
                    self._answer(404, "Not found / 見つかりません", "")
                    return
                status, title, body = outer._receive(parse_qs(parts.query))
                self._answer(status, title, body)

            def _answer(self, status: int, title: str, body: str) -> None:
                page = _PAGE.format(title=html.escape(title), body=html.escape(body)).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:  # no request line: it holds the code
                return

        try:
            self._server = ThreadingHTTPServer((redirect.bind_host, redirect.port), Handler)
        except OSError as exc:
            raise SetupFailed(
                f"cannot listen on {redirect.uri()} ({exc.strerror or exc}); free the port or pass --port "
                f"(the redirect URI then changes and must be registered in the freee app) / "
                f"ポート {redirect.port} を使用できません"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})
        self._thread.daemon = True
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return self.redirect.uri(self.port)

    def _receive(self, query: dict[str, list[str]]) -> tuple[int, str, str]:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        outcome = self._outcome
        if self.expected_state is None or one("state") != self.expected_state:
            outcome.error = SetupFailed(
                "the answer from the browser carried a different `state` than this run sent, so it was refused "
                "(an old browser tab, or a request that did not come from this run); run `hubspot-freee setup "
                "freee` again / 認可の応答の state が一致しないため拒否しました。もう一度実行してください"
            )
            status, title, body = (
                400,
                "state mismatch / state が一致しません",
                "もう一度実行してください / run again",
            )
        elif one("error"):
            outcome.error = _refusal(one("error") or "", one("error_description"))
            status, title, body = 400, "not authorised / 認可されませんでした", str(outcome.error)
        elif not one("code"):
            outcome.error = SetupFailed("freee sent the browser back without a code / 認可コードがありません")
            status, title, body = 400, "no code / 認可コードがありません", ""
        else:
            outcome.code = one("code")
            status, title, body = (
                200,
                "freee と接続しました / freee is connected",
                "このウィンドウを閉じてターミナルに戻ってください / close this window and return to the terminal",
            )
        outcome.done.set()
        return status, title, body

    def wait(self, timeout: float) -> str:
        """The authorisation code, once the browser comes back; :class:`~sdk.freee.errors.SetupFailed` for a refusal, a wrong
        ``state`` or no answer within ``timeout`` seconds."""
        if not self._outcome.done.wait(timeout):
            raise SetupFailed(
                f"no answer from the browser within {timeout:.0f}s. Open the URL above and approve the app. If "
                f"freee showed an error about the redirect URI (redirect_uri), {self.redirect_uri} is not "
                f"registered: {REGISTER_HINT} / {timeout:.0f}秒以内にブラウザから応答がありませんでした。"
                "freee がリダイレクトURIのエラーを表示した場合は登録を確認してください"
            )
        if self._outcome.error is not None:
            raise self._outcome.error
        return str(self._outcome.code)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _refusal(error: str, description: str | None) -> SetupFailed:
    said = f" ({description})" if description else ""
    if error == "access_denied":
        return SetupFailed(
            f"freee: the authorisation was denied (access_denied){said}. Run `hubspot-freee setup freee` again and "
            "choose 許可する (allow) with a user who can access the company / 認可が拒否されました。もう一度実行し、"
            "「許可する」を選んでください"
        )
    return SetupFailed(
        f"freee refused the authorisation: {error}{said}. Check FREEE_CLIENT_ID and that the redirect URI is "
        f"registered in the freee app / freee が認可を拒否しました: {error}"
    )


# --------------------------------------------------------------------------------------------------------------
# the flow
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """freee is connected: the stored token row and the companies the user can access."""

    token: StoredToken
    companies: tuple[Company, ...]


class FreeeAuthorisation:
    """One run of ``setup freee``: listen, build the URL, wait for the code, exchange and store it.

    Use as a context manager so the local server stops whatever happens."""

    def __init__(
        self,
        settings: Settings,
        *,
        port: int | None = None,
        session: requests.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        settings.require("freee_client_id", "freee_client_secret")
        self.settings = settings
        self.clock = clock or SystemClock()
        self.session = session or requests.Session()
        self.server = CallbackServer(loopback_redirect(settings.freee_redirect_uri, port))
        secret = settings.freee_client_secret
        self.oauth = OAuthClient(
            auth_base=settings.freee_auth_base,
            client_id=str(settings.freee_client_id),
            client_secret=secret.get_secret_value() if secret else "",
            redirect_uri=self.server.redirect_uri,
            session=self.session,
            clock=self.clock,
            timeout=settings.freee_timeout_seconds,
        )
        self.url, state = self.oauth.authorization_url()
        self.server.expected_state = state

    @property
    def redirect_uri(self) -> str:
        return self.server.redirect_uri

    @property
    def redirect_differs(self) -> bool:
        """True when the URI listened on is not ``FREEE_REDIRECT_URI`` (default, or ``--port`` changed it):
        the operator must register it in the freee app."""
        return self.redirect_uri != self.settings.freee_redirect_uri

    def __enter__(self) -> FreeeAuthorisation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()

    def wait_for_code(self, timeout: float) -> str:
        return self.server.wait(timeout)

    def connect(self, code: str, token_store: TokenStore, rate_store: RateLimitStore) -> Connected:
        """Exchange the code, store the pair for every worker, and list the user's companies."""
        try:
            tokens = self.oauth.exchange_code(code)
        except FreeeAuthError as exc:
            raise _exchange_refused(str(exc), self.redirect_uri) from None
        manager = TokenManager(token_store, self.oauth, self.clock)
        row = manager.connect(tokens)
        # list_companies needs no company id; the client only insists on having one
        listing = self.settings.model_copy(
            update={"freee_company_id": self.settings.freee_company_id or tokens.company_id or 1}
        )
        client = FreeeClient.from_settings(
            listing, token_store=token_store, rate_store=rate_store, clock=self.clock, session=self.session
        )
        return Connected(row, tuple(client.list_companies()))


def _exchange_refused(message: str, redirect_uri: str) -> SetupFailed:
    text = message.split("; run `hubspot-freee setup freee`")[0]
    if "invalid_client" in text:
        hint = (
            "check FREEE_CLIENT_ID and FREEE_CLIENT_SECRET / クライアントIDとシークレットを確認してください"
        )
    else:
        hint = (
            f"the code was refused: the redirect URI {redirect_uri} must be exactly the one registered in the app "
            "and a code can be used once within minutes; run `hubspot-freee setup freee` again / 認可コードが拒否"
            "されました。リダイレクトURIの登録を確認し、もう一度実行してください"
        )
    return SetupFailed(f"{text}: {hint}")


def choose_company(
    companies: Sequence[Company],
    wanted: int | None,
    ask: Callable[[Sequence[Company]], int] | None = None,
) -> Company:
    """The company to invoice from: ``wanted`` (``--company-id``), else the only one, else the one ``ask``
    returns (a prompt); with several and no way to ask, :class:`~sdk.freee.errors.SetupFailed` lists them."""
    listed = ", ".join(f"{c.id} ({c.name})" for c in companies)
    if not companies:
        raise SetupFailed(
            "this freee user belongs to no company; log in to freee with a user of the company to invoice from / "
            "このユーザーが所属する事業所がありません"
        )
    if wanted is not None:
        found = next((c for c in companies if c.id == wanted), None)
        if found is None:
            raise SetupFailed(
                f"--company-id {wanted} is not a company this freee user can access: {listed} / "
                f"事業所ID {wanted} にはアクセスできません"
            )
        return found
    if len(companies) == 1:
        return companies[0]
    if ask is None:
        raise SetupFailed(
            f"several freee companies; pass --company-id with one of {listed} / 事業所IDを指定してください"
        )
    chosen = ask(companies)
    return choose_company(companies, chosen)


# --------------------------------------------------------------------------------------------------------------
# where FREEE_COMPANY_ID goes
# --------------------------------------------------------------------------------------------------------------


def settings_file_in_use(config: Path | None) -> Path | None:
    """The TOML settings file the commands read (``--config``, ``$HUBSPOT_FREEE_CONFIG``, or
    ``./hubspot-freee.toml`` when present), else ``None``."""
    if config is not None:
        return config
    if os.environ.get(CONFIG_ENV):
        return config_path()
    default = config_path()
    return default if default.is_file() else None


_TABLE = re.compile(r"^\s*\[")


def write_toml_setting(path: Path, key: str, value: int | str | bool) -> None:
    """Set the top-level ``key`` in a TOML file, keeping every other line (comments, tables) as it was.

    An existing ``key = ...`` line before the first table is replaced; otherwise the line is added before the
    first table. The result is parsed back before the file is replaced; a file that does not parse is refused."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        raise ValueError(f"not a bare TOML key: {key!r}")
    literal = _toml_literal(value)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupFailed(f"{path}: not valid TOML ({exc}); fix it first / TOMLとして読めません") from None
    lines = text.splitlines(keepends=True)
    first_table = next((i for i, line in enumerate(lines) if _TABLE.match(line)), len(lines))
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    existing = next((i for i in range(first_table) if pattern.match(lines[i])), None)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    line = f"{key} = {literal}{newline}"
    if existing is not None:
        lines[existing] = line
    else:
        at = first_table
        while at > 0 and not lines[at - 1].strip():
            at -= 1
        if at > 0 and not lines[at - 1].endswith(("\n", "\r")):
            lines[at - 1] += newline
        lines.insert(at, line)
    updated = "".join(lines)
    try:
        parsed = tomllib.loads(updated)
    except tomllib.TOMLDecodeError as exc:  # e.g. a multi-line value we did not understand
        raise SetupFailed(
            f"{path}: cannot set {key} safely ({exc}); set it by hand / 手動で設定してください"
        ) from None
    if parsed.get(key) != value:
        raise SetupFailed(
            f"{path}: cannot set {key} safely; set {key} = {literal} by hand / 手動で設定してください"
        )
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(updated, encoding="utf-8")
    if path.exists():
        os.chmod(temporary, path.stat().st_mode & 0o777)
    os.replace(temporary, path)


def _toml_literal(value: int | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = [
    "CALLBACK_PATH",
    "DEFAULT_PORT",
    "CallbackServer",
    "Connected",
    "FreeeAuthorisation",
    "LoopbackRedirect",
    "choose_company",
    "loopback_redirect",
    "settings_file_in_use",
    "write_toml_setting",
]
