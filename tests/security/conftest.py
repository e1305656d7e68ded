"""The attack suite reuses the integration fixtures: a real server on 127.0.0.1 (``api``) over
a fresh SQLite and a fresh PostgreSQL database (``db_url``), keys of every role."""

from tests.integration.conftest import (  # noqa: F401
    db_url,
    gw,
    json_logs,
    pg_server,
    sqlite_template,
)
from tests.integration.test_api_support import api_fixture  # noqa: F401
