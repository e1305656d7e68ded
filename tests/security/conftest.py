"""The attack suite reuses the integration fixtures: a real server on 127.0.0.1 (``api``) over
a fresh SQLite and a fresh PostgreSQL database (``db_url``), keys of every role."""

from tests.integration.conftest import db_url, gw, pg_server, sqlite_template  # noqa: F401
from tests.integration.test_api_support import api_fixture  # noqa: F401
