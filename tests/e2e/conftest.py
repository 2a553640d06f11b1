"""End-to-end tests: the whole local stack (moto's server, the API gateway, the dispatcher), as ``finview`` runs it.

Every test under this folder is marked ``e2e`` (``pytest -m "not e2e"`` skips them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
