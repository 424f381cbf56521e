"""Shared pytest fixtures for every test tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import shared

pytest_plugins = [
    "tests.support.moto",  # the ``aws`` fixture: moto's server mode on loopback
    "tests.support.infra",  # the ``infra`` fixture: the CDK app synthesized once (starts Node.js on use)
]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ``../shared`` folder (``WAFLENS_SHARED_DIR`` overrides); fails in CI, skips locally."""
    return shared.shared_dir()
