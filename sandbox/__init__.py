"""Stateful HubSpot and freee sandboxes (Flask WSGI apps) with fault injection and a scalable clock.

Used three ways: mounted into ``requests`` inside tests (:mod:`sandbox.transport`), served on loopback
(:func:`sandbox.transport.serve`) for the official HubSpot client, the demo and end-to-end tests, and reset or
seeded through each sandbox's ``/_sandbox`` admin API.
"""
