"""Billing schedules (issue 17): a won deal becomes periods, each its own invoice, or lines on its company's
month-end consolidated invoice (合算請求).

* :mod:`sdk.billing.units` — what one ledger row and one freee invoice stand for (a deal, a period of a deal, a
  company's closing window), its key and the marker its invoice carries.
* :mod:`sdk.billing.schedule` — HubSpot's recurring line-item properties → a :class:`~sdk.billing.schedule.Plan`
  (periods, billing and due dates) and each period's invoice draft. Pure: no I/O.
* :mod:`sdk.billing.consolidation` — closing windows and the one invoice per company and window.
* :mod:`sdk.billing.preview` — what ``hubspot-freee preview`` shows of both: every period's invoice, the closing
  window of each consolidated charge. Pure: no I/O.
"""
