"""A stateful in-memory freee (Flask WSGI app): the freee請求書 API under ``/iv``, the freee会計 API's partners,
deals and companies under ``/api/1``, and the OAuth endpoints under ``/public_api``, on one base URL (use it as
both ``FREEE_API_BASE`` and ``FREEE_AUTH_BASE``).

It follows freee's own OpenAPI documents (``specs/freee``): field names, required fields, enums, error
shapes and status codes; the contract tests validate its answers against them. It computes invoice totals on
its own (one rounding per tax rate, as freee does), registers an accounting deal (取引) per invoice, takes
payments through its admin API, shows a consent page (許可する / 拒否する) that redirects with a code or, for the
out-of-band URI ``urn:ietf:wg:oauth:2.0:oob``, shows the code for the user to copy, rotates single-use refresh
tokens, and enforces freee's rate limits on the injected clock (429, then a 403 lock-out for sustained overuse).

Admin API (no auth, no rate limit) under ``/_sandbox``: ``POST oauth/codes``, ``POST tokens``,
``POST tokens/expire``, ``POST invoices/{id}/payments``, ``POST invoices/{id}/register``, and those both
sandboxes share (:func:`sandbox.admin.install_admin`): ``POST reset``, ``POST seed``, ``GET state`` and the fault
endpoints.

The package, in the order a request meets it: :mod:`~sandbox.freee.app` (the sandbox, its hooks and error
shapes, :func:`create_freee_sandbox`), :mod:`~sandbox.freee.oauth` and :mod:`~sandbox.freee.routes` (the
endpoints), :mod:`~sandbox.freee.web`, :mod:`~sandbox.freee.fields`, :mod:`~sandbox.freee.partners` and
:mod:`~sandbox.freee.invoices` (reading and checking requests), :mod:`~sandbox.freee.state` (what it holds),
:mod:`~sandbox.freee.ratelimit`, :mod:`~sandbox.freee.views` (answer shapes), :mod:`~sandbox.freee.facts` and
:mod:`~sandbox.freee.errors`.
"""

from sandbox.freee.app import FreeeSandbox, create_freee_sandbox
from sandbox.freee.errors import FreeeSandboxError
from sandbox.freee.facts import INVOICE_ORDERS
from sandbox.freee.state import FreeeState

__all__ = ["INVOICE_ORDERS", "FreeeSandbox", "FreeeSandboxError", "FreeeState", "create_freee_sandbox"]
