"""Helpers of the attack suite: sign in to the console through its real form."""

from __future__ import annotations

import re

from tests.integration.test_api_support import Api


def console_login(api: Api, who: str) -> str:
    """Sign ``api.client`` in to the console with ``who``'s key; returns the CSRF token."""
    api.client.cookies.clear()
    form = api.client.get("/console/login")
    assert form.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    r = api.client.post(
        "/console/login",
        data={"csrf": token.group(1), "key": api.keys[who]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = api.client.get("/console/failures")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    return csrf.group(1)
