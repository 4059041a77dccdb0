"""The whole loop on one machine, wired one way: both sandboxes (:mod:`sandbox`) and this package's own code.

- :mod:`local.sandboxes`: the settings that point this package at sandboxes, and what ``setup hubspot`` and
  ``setup freee`` leave behind in them;
- :mod:`local.loop`: :class:`~local.loop.Loop`, both sandboxes served on loopback, the local server
  (``functions.app``) and worker threads (``functions.worker.run_worker``), for the demo, the benchmarks and the
  chaos storm;
- :mod:`local.world`: the tests' world (HubSpot served on loopback, freee mounted in-process, a fake clock);
- :mod:`local.demo`: ``hubspot-freee demo`` (``make demo``), and :mod:`local.demo_billing`, its billing chapter (a
  subscription over three months and a month-end consolidated invoice on the demo's clock moved forward).
"""
