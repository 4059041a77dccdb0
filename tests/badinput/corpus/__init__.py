"""The hostile-input corpus: one small record per case, for every entry point a caller (or an operator) reaches.

Each case says what is sent and what must come back: the HTTP status and the JSON ``error`` code, or the
workflow output fields, or the CLI exit code, or what the deal shows (``freee_sync_error``) after the real worker
path ran. ``tests/badinput/test_corpus.py`` runs them all against both sandboxes with canary secrets and checks,
besides the expectation, that nothing was half written and that no secret appears anywhere.

The cases live in one module per entry point (:mod:`.webhook`, :mod:`.workflow_action`, :mod:`.custom_code`,
:mod:`.card`, :mod:`.cli`, :mod:`.worker`), in terms of :mod:`.model`; :data:`CASES` is all of them, in that order.

Placeholders filled in when a case runs: ``{deal}`` (the id of the deal the case builds), ``{file}`` (the path
of the case's input file), ``{portal}`` (the sandbox portal id).

The tenant boundary has its cases at every entry point: a validly signed request (or a queue message, or a CLI
``--portal``) naming :data:`OTHER_PORTAL` is refused before any read or write, and a boolean is never an id.
"""

from __future__ import annotations

from tests.badinput.corpus import card, cli, custom_code, webhook, worker, workflow_action
from tests.badinput.corpus.model import PORTAL, Case, Cli, DealSpec, Entry, Http, Job

CASES: tuple[Case, ...] = (
    *webhook.CASES,
    *workflow_action.CASES,
    *custom_code.CASES,
    *card.CASES,
    *cli.CASES,
    *worker.CASES,
)

MIN_CASES = 60

__all__ = ["CASES", "MIN_CASES", "PORTAL", "Case", "Cli", "DealSpec", "Entry", "Http", "Job"]
