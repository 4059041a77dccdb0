from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sdk.settings import CONFIG_ENV, Settings, load_settings

TODAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment or a hubspot-freee.toml lying around."""
    import os

    for name in list(os.environ):
        if name.startswith(("HUBSPOT_", "FREEE_", "TAX__", "WON_STAGES__", "PROPERTIES__")) or name in {
            "STORAGE_URL",
            "PAYMENT_TERMS_DEFAULT",
            "INVOICE_TITLE_PATTERN",
            "INVOICE_PARTNER_TITLE",
            "ISSUE_DATE_SOURCE",
            "LOG_LEVEL",
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # so no ./hubspot-freee.toml of the developer's is read


@pytest.fixture
def settings() -> Settings:
    return load_settings()
