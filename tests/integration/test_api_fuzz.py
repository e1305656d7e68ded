"""Schemathesis against the served OpenAPI of a real API server on 127.0.0.1, on SQLite and
PostgreSQL: every operation × each role's key (and no key), valid and invalid inputs.

0 server errors, 0 responses that break their documented status/content type/schema, 0
authorization bypasses against the route×role table of test_api_access. Bounded (a few
examples per operation and caller); ``tools/api_fuzz.py`` runs the long campaign.
"""

from __future__ import annotations

from tests.integration.test_api_access import ACCESS
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401
from tests.integration.x12gen import make_835
from tools.api_fuzz import fuzz

EXAMPLES = 8


def test_schemathesis_every_operation_every_role(api: Api) -> None:
    # something to find: a processed file, so detail/acks/raw routes have a real id too
    up = api.client.post("/v1/files", content=make_835(1), headers=api.auth("uploader"))
    assert up.status_code == 201
    api.process_queue()
    report = fuzz(api.url, api.keys, ACCESS, max_examples=EXAMPLES, seed=0)
    failures = "\n".join(
        f"{f.kind} {f.caller} {f.operation}: {f.detail[:300]}" for f in report.failures
    )
    assert report.failures == [], f"{report.summary()}\n{failures}"
    assert report.operations >= 14
    assert report.requests >= report.operations * 4 * 5
    assert not any(s >= 500 for s in report.statuses)
