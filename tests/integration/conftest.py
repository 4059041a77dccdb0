from __future__ import annotations

import pytest

from sdk.store import Store
from sdk.store.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path) -> Store:
    return SQLiteStore(tmp_path / "store.sqlite")
