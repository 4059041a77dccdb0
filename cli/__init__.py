"""The ``hubspot-freee`` command line (typer), one module per command group; ``cli.app`` puts them together.

``preview``, ``invoice``, ``worker`` and ``dlq`` (``queue``), ``sync``, ``actions``, ``setup``, ``doctor``, and
``serve`` / ``sandbox`` / ``demo`` (``serve``); what they share is in ``common``. Never part of the Lambda artifact.
"""
