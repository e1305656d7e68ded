"""KPI reporting (issue 21): credit-balance inventory, government deadlines, recovery, days to
resolve, benchmark rates and root-cause trends, all provider-scoped and computed in SQL.

Each report is a function ``(session, scope, ...) -> pydantic model`` in ``kpi.py``/``trend.py``;
the API (``gateway.api.routes.reports_kpi``), the CLI (``gateway report NAME``) and the console's
KPI page all serialise those same models, so the three can never disagree.
"""
