"""A browser on freee's consent page, for tests: open the authorisation URL, press 許可する (or 拒否する), and read
the authorization code off freee's page when the redirect URI is the out-of-band one."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import requests

_FORM = re.compile(r'<form method="post" action="([^"]+)">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_CODE = re.compile(r'<code id="code">([^<]+)</code>')


def answer_consent(
    url: str,
    decision: str = "allow",
    *,
    follow: bool = False,
    session: requests.Session | None = None,
) -> requests.Response:
    """Open the authorisation ``url``, submit the consent form with ``decision``; the answer (the redirect
    itself unless ``follow``)."""
    http = session or requests.Session()
    page = http.get(url, timeout=10)
    assert page.status_code == 200, page.text
    found = _FORM.search(page.text)
    assert found is not None, page.text
    form = {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(found.group(2))}
    return http.post(
        urljoin(url, html.unescape(found.group(1))),
        data=form | {"decision": decision},
        allow_redirects=follow,
        timeout=10,
    )


def code_on_page(page: requests.Response) -> str:
    """The authorization code freee shows for the out-of-band redirect URI."""
    found = _CODE.search(page.text)
    assert found is not None, page.text
    return html.unescape(found.group(1))
