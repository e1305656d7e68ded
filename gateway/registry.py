"""Import every module that declares tables, so ``Base.metadata`` is complete.

Alembic's env and the schema-drift test import this; each concern keeps its tables in its own
``tables.py`` next to the code that uses them. It sits at the top of the stack (it knows every
domain), so ``gateway.db`` stays below the domains: see the layer contracts in pyproject.toml.
"""

import gateway.api.tables
import gateway.db.models
import gateway.ingest.tables
import gateway.outbound.tables
import gateway.reconcile.tables
import gateway.reporting.tables
import gateway.resolve.tables
import gateway.store.tables
import gateway.users.tables
import gateway.webhooks.tables  # noqa: F401
