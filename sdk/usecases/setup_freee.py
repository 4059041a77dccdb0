"""Connect freee: the OAuth 2.0 authorization-code flow of ``setup freee``, on this machine or on a remote one.

The steps, as an operator sees them:

1. the authorisation URL (freee's ``/public_api/authorize`` with a random, signed ``state``) is printed, and opened
   in a browser when the code can come back to this machine,
2. the user logs in to freee and chooses 許可する; freee hands back a ``code`` (or ``error=access_denied``) in one of
   two ways, chosen from ``FREEE_REDIRECT_URI`` and the command's options (:func:`authorisation_mode`):

   * **listen**: freee sends the browser to a loopback redirect URI (default ``http://127.0.0.1:8765/callback``)
     where a one-shot local server (:class:`CallbackServer`) receives the code. Works when the browser runs on
     this machine, or through an SSH tunnel (``ssh -L 8765:127.0.0.1:8765 server``) from the laptop's browser;
   * **paste**: the user copies the code and pastes it into the terminal (``--paste``; or ``--code`` /
     ``--redirected-url`` without a terminal). With ``FREEE_REDIRECT_URI=urn:ietf:wg:oauth:2.0:oob`` freee shows
     the code on its own page; with any other redirect URI the browser is sent to a page that may not load (the
     laptop's own 127.0.0.1) and the user pastes that whole URL from the address bar (:func:`read_pasted`),

   either way the ``state`` must be the one we sent, else the answer is refused (it did not come from our request),
3. the code is exchanged for tokens (:class:`~sdk.freee.oauth.OAuthClient`), and the pair is stored in the same
   token store the worker uses (versioned, :class:`~sdk.freee.oauth.TokenManager.connect`),
4. the companies the user can access are listed (``GET /api/1/companies``) and one is chosen; its id becomes
   ``FREEE_COMPANY_ID`` (written into the TOML settings file when one is in use, without touching other keys).

Nothing here prints a token: the pair goes from freee's answer straight into the store.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
import secrets
import threading
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
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
PASTE_PROMPT: Final = (
    "認可コード、またはリダイレクト後のURL全体を貼り付けてください / Paste the authorization code or the whole "
    "redirected URL"
)
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


def _host(parts: Any) -> str:
    netloc = str(parts.netloc)
    return (netloc.rsplit(":", 1)[0] if re.search(r":\d+$", netloc) else netloc).lower()


def is_loopback(uri: str) -> bool:
    """True for an ``http://`` URI on this machine's loopback (127.0.0.1, localhost, [::1]) without a query:
    one a local server can receive the browser on."""
    parts = urlsplit(uri.strip())
    return (
        parts.scheme == "http" and _host(parts) in LOOPBACK_HOSTS and not parts.query and not parts.fragment
    )


def loopback_redirect(configured: str, port: int | None = None) -> LoopbackRedirect:
    """The callback to listen on, from ``FREEE_REDIRECT_URI`` (and ``--port``).

    The out-of-band URI (``urn:ietf:wg:oauth:2.0:oob``, copy-the-code) with ``--port`` becomes
    ``http://127.0.0.1:PORT/callback``; a loopback ``http://`` URI is used as it is (``port`` replaces its port);
    anything else cannot receive the browser here and is refused, saying what to do instead."""
    if port is not None and not 0 <= port <= 65535:
        raise SetupFailed(f"--port {port} is not a port (0-65535) / ポート番号が不正です")
    if configured.strip() == OOB_REDIRECT:
        return LoopbackRedirect("127.0.0.1", DEFAULT_PORT if port is None else port, CALLBACK_PATH)
    parts = urlsplit(configured.strip())
    if not is_loopback(configured):
        suggestion = f"http://127.0.0.1:{port or DEFAULT_PORT}{CALLBACK_PATH}"
        raise SetupFailed(
            f"FREEE_REDIRECT_URI={configured} is not a loopback address of this machine, so a local server "
            f"(--port) cannot receive freee's redirect. Run without --port and paste the URL the browser is sent "
            f"to, or set FREEE_REDIRECT_URI to a loopback URI such as {suggestion}: {REGISTER_HINT} / "
            f"FREEE_REDIRECT_URI がこのマシンのループバックではないため、--port では受け取れません。--port を付けずに"
            f"実行してリダイレクト後のURLを貼り付けるか、ループバック（例: {suggestion}）を設定してください"
        )
    try:
        given = parts.port
    except ValueError:
        raise SetupFailed(
            f"FREEE_REDIRECT_URI={configured}: the port is not a number / ポートが不正です"
        ) from None
    chosen = port if port is not None else (given if given is not None else 80)
    return LoopbackRedirect(_host(parts), chosen, parts.path or "/")


Mode = Literal["listen", "paste"]


def authorisation_mode(configured: str, *, port: int | None = None, paste: bool = False) -> tuple[Mode, str]:
    """How the code comes back, and why (ja + en, for the operator).

    ``paste`` (``--paste``), the out-of-band URI without ``--port``, and a redirect URI that is not on this
    machine's loopback all mean pasting; a loopback URI (the default) or ``--port`` means listening."""
    uri = configured.strip()
    if paste:
        return "paste", (
            "--paste: after approving, paste the code, or the whole URL the browser was sent to / "
            "承認後、認可コードまたはリダイレクト後のURLを貼り付けてください"
        )
    if uri == OOB_REDIRECT and port is None:
        return "paste", (
            f"FREEE_REDIRECT_URI is {OOB_REDIRECT}: freee shows the authorization code on its own page; copy it "
            "here / freee の画面に表示される認可コードをコピーして貼り付けてください"
        )
    if port is None and not is_loopback(uri):
        return "paste", (
            f"FREEE_REDIRECT_URI={uri} is not a loopback address of this machine, so nothing here can receive "
            "freee's redirect: after approving, paste the whole URL the browser was sent to (from its address bar) "
            "/ リダイレクトURIがこのマシンではないため、承認後にブラウザのアドレスバーのURL全体を貼り付けてください"
        )
    return "listen", "the browser comes back to a local server / ブラウザの応答をローカルで受け取ります"


# --------------------------------------------------------------------------------------------------------------
# what the operator pastes, and the state
# --------------------------------------------------------------------------------------------------------------

_CODE = re.compile(r"[A-Za-z0-9._~+/=-]{4,2048}")


@dataclass(frozen=True, slots=True)
class Pasted:
    """What was pasted (or given as ``--code`` / ``--redirected-url``): the code, and what came with it."""

    code: str
    #: the ``state`` of a pasted URL (``None`` for a bare code)
    state: str | None = None
    #: the redirect URI the URL was sent to (``scheme://host/path``; ``None`` for a bare code)
    redirect_uri: str | None = None


def read_pasted(text: str) -> Pasted:
    """A bare authorization code, or a whole redirected URL (``…?code=…&state=…``, or just its query); an
    ``error=`` in the URL (the user chose 拒否する: ``access_denied``) is explained as
    :class:`~sdk.freee.errors.SetupFailed`, and so is anything that is neither."""
    given = text.strip().strip("'\"<>")
    if not given:
        raise SetupFailed(
            "nothing was pasted: paste the authorization code or the whole redirected URL / 何も貼り付けられていません"
        )
    parts = urlsplit(given)
    query = parts.query if parts.scheme else given.lstrip("?")
    looks_like_url = bool(parts.scheme and parts.netloc) or re.search(r"(^|[?&#])(code|error|state)=", given)
    if not looks_like_url:
        if not _CODE.fullmatch(given):
            raise SetupFailed(
                "that is neither an authorization code nor a URL: paste the code freee showed, or the whole URL "
                "the browser was sent to after 許可する / 認可コードでもURLでもありません"
            )
        return Pasted(given)
    values = parse_qs(query) or parse_qs(parts.fragment)

    def one(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    if one("error"):
        raise _refusal(one("error") or "", one("error_description"))
    code = one("code")
    if not code:
        raise SetupFailed(
            "the URL has no code: paste the URL the browser was sent to *after* choosing 許可する (it starts with "
            "the redirect URI and holds ?code=…), not the authorisation URL / このURLには認可コード(code)が"
            "ありません。「許可する」の後に移動した先のURLを貼り付けてください"
        )
    redirect = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme and parts.netloc else None
    return Pasted(code, one("state"), redirect)


def new_state(secret: str) -> str:
    """A fresh ``state``: a random nonce signed with the app's client secret, so a later run (``--redirected-url``)
    can tell a URL of this installation's authorisation from a forged one."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_state_mac(secret, nonce)}"


def state_is_ours(state: str, secret: str) -> bool:
    nonce, _, mac = state.rpartition(".")
    return bool(nonce) and hmac.compare_digest(mac, _state_mac(secret, nonce))


def _state_mac(secret: str, nonce: str) -> str:
    return hmac.new(
        secret.encode(), f"hubspot-freee setup freee {nonce}".encode(), hashlib.sha256
    ).hexdigest()[:32]


STATE_MISMATCH: Final = (
    "the answer carried a different `state` than this run sent, so it was refused (an old browser tab or URL, or "
    "a request that did not come from this run); run `hubspot-freee setup freee` again / 認可の応答の state が"
    "一致しないため拒否しました（古いタブやURL、またはこの実行以外からの応答）。もう一度実行してください"
)


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
                f"cannot listen on {redirect.uri()}: port {redirect.port} is in use or not allowed "
                f"({exc.strerror or exc}), and whatever holds it would receive freee's code, so nothing was sent. "
                "Stop what uses the port (another `setup freee`?) and run again, or run with --paste to copy the code "
                "by hand; --port N also works, but changes the redirect URI, which must then be registered in the freee "
                f"app / ポート {redirect.port} が使用中です。使用中のプロセスを止めて再実行するか、--paste で認可コードを"
                "貼り付けてください（--port で変えるとリダイレクトURIの登録が必要です）"
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
            outcome.error = SetupFailed(STATE_MISMATCH)
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
            port = self.port
            raise SetupFailed(
                f"no answer from the browser within {timeout:.0f}s on {self.redirect_uri}. If the browser runs on "
                "another machine (this is a remote server), freee sent it to that machine's own 127.0.0.1, not here: "
                "run `hubspot-freee setup freee --paste` and paste the URL the browser shows, or forward the port "
                f"first (`ssh -L {port}:127.0.0.1:{port} <this server>`) and open the URL again. If freee showed an "
                f"error about the redirect URI (redirect_uri), {self.redirect_uri} is not registered: {REGISTER_HINT} "
                f"/ {timeout:.0f}秒以内にブラウザから応答がありませんでした。ブラウザが別のマシン（リモートサーバーへの"
                "接続元）にある場合、応答はそのマシンの 127.0.0.1 に送られています。--paste でURLを貼り付けるか、"
                f"`ssh -L {port}:127.0.0.1:{port} <サーバー>` でポートを転送して再実行してください。freee が"
                "リダイレクトURIのエラーを表示した場合は登録を確認してください"
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
    """One run of ``setup freee``: build the URL, get the code back (a local server, or what the operator pastes),
    exchange and store it.

    Use as a context manager so the local server, when there is one, stops whatever happens."""

    def __init__(
        self,
        settings: Settings,
        *,
        port: int | None = None,
        paste: bool = False,
        session: requests.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        settings.require("freee_client_id", "freee_client_secret")
        self.settings = settings
        self.clock = clock or SystemClock()
        self.session = session or requests.Session()
        secret = settings.freee_client_secret
        self._secret = secret.get_secret_value() if secret else ""
        configured = settings.freee_redirect_uri.strip()
        self.mode, self.why = authorisation_mode(configured, port=port, paste=paste)
        self.server: CallbackServer | None = None
        if self.mode == "listen":
            self.server = CallbackServer(loopback_redirect(configured, port))
            redirect = self.server.redirect_uri
        else:
            redirect = configured if port is None else loopback_redirect(configured, port).uri()
        self.oauth = OAuthClient(
            auth_base=settings.freee_auth_base,
            client_id=str(settings.freee_client_id),
            client_secret=self._secret,
            redirect_uri=redirect,
            session=self.session,
            clock=self.clock,
            timeout=settings.freee_timeout_seconds,
        )
        self.state = new_state(self._secret)
        self.url, _ = self.oauth.authorization_url(self.state)
        if self.server is not None:
            self.server.expected_state = self.state

    @property
    def redirect_uri(self) -> str:
        return self.oauth.redirect_uri

    @property
    def redirect_differs(self) -> bool:
        """True when the redirect URI sent is not ``FREEE_REDIRECT_URI`` (``--port`` changed it): the operator
        must register it in the freee app."""
        return self.redirect_uri != self.settings.freee_redirect_uri.strip()

    def __enter__(self) -> FreeeAuthorisation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_listening()

    def stop_listening(self, why: str | None = None) -> None:
        """Close the local server (if any); with ``why``, the code is now pasted instead (same URL and state:
        the browser's redirect to the loopback URI then fails, and the user pastes the URL it shows)."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if why is not None:
            self.mode, self.why = "paste", why

    def wait_for_code(self, timeout: float) -> str:
        if self.server is None:
            raise SetupFailed("not listening: paste the code / ローカルで待ち受けていません")
        return self.server.wait(timeout)

    def code_from(self, text: str) -> str:
        """The code in what the operator pasted in this run: a URL's ``state`` must be the one this run sent."""
        pasted = read_pasted(text)
        if pasted.state is not None and not hmac.compare_digest(pasted.state, self.state):
            raise SetupFailed(STATE_MISMATCH)
        return pasted.code

    def code_given(self, *, code: str | None = None, redirected_url: str | None = None) -> str:
        """The code of ``--code`` / ``--redirected-url`` (from an authorisation URL of an earlier run): a URL's
        ``state`` must carry this installation's signature, and its redirect URI is the one the code is bound to."""
        pasted = read_pasted(redirected_url if redirected_url is not None else code or "")
        if pasted.state is not None and not state_is_ours(pasted.state, self._secret):
            raise SetupFailed(
                "the URL's `state` was not made by `setup freee` of this installation (FREEE_CLIENT_SECRET), so it "
                "was refused: it may be forged, or from another app; run `hubspot-freee setup freee` again / "
                "URLの state がこのインストールのものではないため拒否しました。もう一度実行してください"
            )
        if redirected_url is not None and pasted.redirect_uri is not None:
            self.oauth.redirect_uri = pasted.redirect_uri
        return pasted.code

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
    "OOB_REDIRECT",
    "PASTE_PROMPT",
    "CallbackServer",
    "Connected",
    "FreeeAuthorisation",
    "LoopbackRedirect",
    "Pasted",
    "authorisation_mode",
    "choose_company",
    "is_loopback",
    "loopback_redirect",
    "new_state",
    "read_pasted",
    "settings_file_in_use",
    "state_is_ours",
    "write_toml_setting",
]
