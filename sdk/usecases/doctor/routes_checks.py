"""The doctor's checks of what each HTTP route needs to answer (``functions.app.ROUTES``, each route with the
:class:`~sdk.admission.Scheme` that admits its requests): the secret that signs it, and ``HUBSPOT_PORTAL_ID``.
A route whose setting is missing answers every request 503 ``not_configured`` (:func:`sdk.admission.admit`), so
each missing setting is an error naming those routes and the setting that fixes it. The check asks exactly what
:func:`~sdk.admission.admit` asks: the scheme's secret, and the portal of :mod:`sdk.tenant`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

from sdk.usecases.doctor.results import Bilingual, CheckResult, error, ok

if TYPE_CHECKING:
    from sdk.admission import Scheme
    from sdk.settings import Settings


class AdmittedRoute(Protocol):
    """A route of the route table: its method and path, and how it admits a request (None: open)."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def admission(self) -> Scheme | None: ...


#: where a setting may be given (sdk/settings.py)
_WHERE: Final = Bilingual(
    "in the environment, a Secrets Manager secret (SECRETS_ID) or hubspot-freee.toml",
    "環境変数、Secrets Manager のシークレット（SECRETS_ID）または hubspot-freee.toml",
)
#: what each secret a route is signed with is (by its environment variable)
_SECRETS: Final[dict[str, Bilingual]] = {
    "HUBSPOT_CLIENT_SECRET": Bilingual(
        "the HubSpot app's client secret (developer account → Apps → the app → Auth)",
        "HubSpot アプリのクライアントシークレット（開発者アカウント → アプリ → 対象アプリ → 認証）",
    ),
    "CUSTOM_CODE_SECRET": Bilingual(
        "a long random string, the same as the secret HUBSPOT_FREEE_SECRET of the custom-code workflow actions "
        "in HubSpot",
        "長いランダムな文字列（HubSpot のカスタムコードアクションのシークレット HUBSPOT_FREEE_SECRET と同じ値）",
    ),
}


def _listed(routes: Sequence[str]) -> str:
    return ", ".join(routes)


def check_route_secret(settings: Settings, scheme: Scheme, routes: Sequence[str]) -> CheckResult:
    """The secret of ``scheme`` is set, so ``routes`` can verify their requests."""
    env = scheme.secret_env
    check_id = f"routes.{env.lower()}"
    secret = scheme.secret(settings)
    listed = _listed(routes)
    if secret is None or not secret.get_secret_value():  # exactly what sdk.admission.admit refuses
        what = _SECRETS.get(env, Bilingual("its value", "その値"))
        return error(
            check_id,
            Bilingual(
                f"{env} is not set: {listed} answer every request 503 not_configured",
                f"{env} が未設定のため、{listed} はすべてのリクエストに 503 not_configured を返します",
            ),
            Bilingual(
                f"set {env} to {what.en}, {_WHERE.en}",
                f"{env} に{what.ja}を設定してください（{_WHERE.ja}）",
            ),
        )
    return ok(
        check_id,
        f"{env} is set: {listed} can verify their requests",
        f"{env} 設定済み: {listed} はリクエストを検証できます",
    )


def check_route_portal(settings: Settings, routes: Sequence[str]) -> CheckResult:
    """``HUBSPOT_PORTAL_ID`` is set (:func:`sdk.tenant.own_portal`): every admitted route serves that portal."""
    check_id = "routes.hubspot_portal_id"
    portal = settings.hubspot_portal_id
    listed = _listed(routes)
    if portal is None:
        return error(
            check_id,
            Bilingual(
                f"HUBSPOT_PORTAL_ID is not set: {listed} answer every request 503 not_configured, "
                "`hubspot-freee serve` does not start and the commands that name a deal stop",
                f"HUBSPOT_PORTAL_ID が未設定のため、{listed} はすべてのリクエストに 503 not_configured を返し、"
                "`hubspot-freee serve` は起動せず、取引を扱うコマンドも止まります",
            ),
            Bilingual(
                "set HUBSPOT_PORTAL_ID to this installation's HubSpot portal id (the HubSpot portal check names "
                f"the portal of the access token), {_WHERE.en}",
                "HUBSPOT_PORTAL_ID にこのインストールの HubSpot ポータルIDを設定してください（HubSpotポータルの"
                f"確認がアクセストークンのポータルを表示します。{_WHERE.ja}）",
            ),
        )
    return ok(
        check_id,
        f"HUBSPOT_PORTAL_ID={portal}: {listed} serve portal {portal}",
        f"HUBSPOT_PORTAL_ID={portal}: {listed} はポータル {portal} を処理します",
    )


def route_checks(settings: Settings, routes: Sequence[AdmittedRoute]) -> list[CheckResult]:
    """One check per secret the routes are signed with (in route order), then the portal, which they all need."""
    by_secret: dict[str, tuple[Scheme, list[str]]] = {}
    admitted: list[str] = []
    for route in routes:
        scheme = route.admission
        if scheme is None:
            continue
        label = f"{route.method} {route.path}"
        admitted.append(label)
        by_secret.setdefault(scheme.secret_env, (scheme, []))[1].append(label)
    results = [check_route_secret(settings, scheme, served) for scheme, served in by_secret.values()]
    if admitted:
        results.append(check_route_portal(settings, admitted))
    return results


def route_check_ids(routes: Sequence[AdmittedRoute]) -> list[str]:
    """The ids :func:`route_checks` answers for ``routes``, in its order."""
    secrets = dict.fromkeys(r.admission.secret_env for r in routes if r.admission is not None)
    ids = [f"routes.{env.lower()}" for env in secrets]
    return [*ids, "routes.hubspot_portal_id"] if ids else []
