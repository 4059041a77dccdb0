"""Signed HubSpot webhooks: verify, parse, keep what matters, queue, acknowledge fast."""
