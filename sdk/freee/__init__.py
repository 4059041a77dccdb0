"""The freee client: typed calls to the freee請求書 and freee会計 APIs, OAuth with single-use refresh tokens,
a shared rate limiter, retries and typed errors. ``from sdk.freee.client import FreeeClient``."""
