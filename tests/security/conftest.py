"""The attack suite reuses the integration fixtures: a real server on 127.0.0.1 (``api``) over
a fresh SQLite and a fresh PostgreSQL database (``db_url``), keys of every role."""

from collections.abc import Iterator

import pytest

from gateway.logging import configure_logging
from tests.integration.conftest import db_url, gw, pg_server, sqlite_template  # noqa: F401
from tests.integration.test_api_support import api_fixture  # noqa: F401


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The server's structured log as JSON on (captured) stderr, put back afterwards."""
    configure_logging("INFO", "json")
    try:
        yield
    finally:
        configure_logging("INFO", "auto")
