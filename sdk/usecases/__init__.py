"""Use cases: the business processes, each reading top to bottom as an accountant would describe it.

They take their dependencies (store, HubSpot, freee, clock, settings) in one :class:`Context`, so tests pass
sandboxes and a fake clock without patching.
"""
