"""``python -m cli``: the ``hubspot-freee`` command line."""

from cli.app import main

main()
