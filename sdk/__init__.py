"""hubspot-freee SDK: the business rules shared by every handler.

Importing this package is cheap on purpose (no network, no heavy imports): handlers import only the
sub-modules they use, e.g. ``from sdk.mapping import build_invoice_request``.
"""

__version__ = "0.1.0"
