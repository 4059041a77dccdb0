"""What HubSpot runs inside workflows, kept as files next to the code that serves it.

* ``actions/*.json``: custom workflow action definitions in HubSpot's v4 format. ``actionUrl`` holds a
  ``{base_url}`` placeholder that :func:`sdk.usecases.register_actions.register_actions` (the
  ``hubspot-freee actions register`` command) replaces with the deployment's public URL.
* ``custom_code/*.py``: snippets to paste into a workflow's "Custom code" action (Python 3.9 runtime; only the
  standard library, ``requests`` and ``hubspot`` may be imported). They call the project's ``/custom-code/*``
  endpoints, signed with the ``HUBSPOT_FREEE_SECRET`` secret.
* :mod:`workflows.runner`: loads a snippet, checks it against that runtime (imports, syntax) and runs its
  ``main(event)`` locally, timed, the way the tests do.
"""
