"""Attack: make the console's segment view show PHI to an auditor (issue 17, item 3).

The masking used to split the whole file with the first ISA's delimiters, read from fixed
offsets: a 107-character ISA (a padding mistake the parser tolerates) or a second interchange
with other delimiters turned the file into one unmasked "segment". Each test uploads a hostile
file through the real API, lets a worker process it, signs in to the console as an auditor and
reads the file page: no name, member id, account or claim number, or full date may appear.
"""

from __future__ import annotations

import re

from gateway.security.phi import MASK
from tests.integration.test_api_support import Api
from tests.integration.x12gen import make_835
from tests.security.helpers import console_login

#: PHI planted in the hostile files (never allowed on a page)
SECRETS = ("SECRETLAST", "SECRETFIRST", "MEMBERB77", "20240101", "20240102")
PERSON = "NM1*QC*1*SECRETLAST*SECRETFIRST****MI*MEMBERB77"


def _hostile_835(control: int, *, pad_isa: bool = False, bad_date: bool = False) -> bytes:
    """One 835 claim whose patient is SECRETLAST; optionally a 107-character ISA, and a bad
    date right after the patient so that the page centres on the patient."""
    data = make_835(control, claims=1).replace(b"NM1*QC*1*DOE*JANE****MI*W123", PERSON.encode())
    if pad_isa:
        data = data.replace(b"*PAYERSENDER    *", b"*PAYERSENDER     *", 1)  # ISA06: 16 chars
        assert data.index(b"~") == 106  # 107 characters with the terminator
    if bad_date:
        data = data.replace(b"DTM*232*20240101", b"DTM*232*2024AB01", 1)
    return data


def _other_delimiters(data: bytes) -> bytes:
    """The same interchange written with | elements, > components and ! terminators."""
    return data.replace(b"*", b"|").replace(b":", b">").replace(b"~", b"!")


def _upload_and_view(api: Api, data: bytes) -> tuple[int, str]:
    r = api.client.post("/v1/files", content=data, headers=api.auth("ops"))
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    api.process_queue()
    console_login(api, "auditor")
    page = api.client.get(f"/console/files/{fid}")
    assert page.status_code == 200
    return fid, page.text


def _assert_no_phi(page: str, extra: tuple[str, ...] = ()) -> None:
    for secret in (*SECRETS, *extra):
        assert secret not in page, secret


def test_107_character_isa_is_tokenized_and_masked(api: Api) -> None:
    """Attack: a 107-character ISA (ISA06 padded by one) made the view split the file on the
    component separator, so the processed file was shown whole and unmasked."""
    fid, page = _upload_and_view(api, _hostile_835(301, pad_isa=True))
    detail = api.client.get(f"/v1/files/{fid}", headers=api.auth("ops")).json()
    assert detail["state"] == "processed"
    assert "isa_not_fixed_width" in {f["code"] for f in detail["findings"]}
    _assert_no_phi(page)
    # each segment on its own line: the view really used the ISA's own terminator
    assert re.search(r">\s+2  GS\*HP\*PAYERSENDER\*RECEIVER", page)
    assert "PAYERSENDER     *ZZ*RECEIVER" in page  # the padded ISA itself is shown


def test_107_character_isa_around_the_patient(api: Api) -> None:
    """Attack: a 107-character ISA plus an error next to the patient, so that the page shows
    the patient's segments: names, member id, account and claim numbers, dates all masked."""
    _fid, page = _upload_and_view(api, _hostile_835(302, pad_isa=True, bad_date=True))
    _assert_no_phi(page, ("PCN302-0", "PCC3020", "2024AB01"))
    assert f"NM1*QC*1*{MASK}*{MASK}****MI*{MASK}" in page
    assert f"CLP*{MASK}*1*" in page  # the patient account number (CLP01) is masked
    assert "DTM*233*2024" in page  # the year stays
    assert "bad_date" in page  # the error is still shown, with its quoted value masked
    assert "DTM02 &#39;9999AA99&#39;" in page


def test_second_interchange_with_other_delimiters_is_masked(api: Api) -> None:
    """Attack: a clean first interchange, then a second one with other delimiters whose
    patient sits next to an error: it used to be one unsplit, unmasked line."""
    first = make_835(303, claims=1)
    second = _other_delimiters(_hostile_835(304, bad_date=True))
    fid, page = _upload_and_view(api, first + second)
    _assert_no_phi(page, ("PCN304-0", "PCC3040"))
    assert f"NM1|QC|1|{MASK}|{MASK}||||MI|{MASK}" in page
    detail = api.client.get(f"/v1/files/{fid}", headers=api.auth("ops")).json()
    assert detail["error_code"] == "bad_date"


def test_untokenizable_rest_of_file_is_not_shown(api: Api) -> None:
    """Attack: PHI after the last IEA (the lexer stops there) or inside an interchange
    without IEA whose successor uses other delimiters (one giant "segment"): neither is
    shown; a placeholder says why."""
    tail = f"{PERSON}~\n".encode()
    fid, page = _upload_and_view(api, make_835(305, claims=1) + tail)
    detail = api.client.get(f"/v1/files/{fid}", headers=api.auth("ops")).json()
    assert detail["state"] == "failed"
    _assert_no_phi(page)
    assert "not shown: the file cannot be split into segments here" in page

    no_iea = make_835(306, claims=1).replace(b"IEA*1*000000306~\n", b"")
    second = _other_delimiters(_hostile_835(307))
    fid, page = _upload_and_view(api, no_iea + second)
    _assert_no_phi(page)
    seg_no = api.client.get(f"/v1/files/{fid}", headers=api.auth("ops")).json()
    assert seg_no["state"] == "failed"
    assert "segment not shown: it does not start with a segment id" in page


def test_masked_messages_keep_control_numbers_readable(api: Api) -> None:
    """Attack on usefulness, not secrecy: masking turned control numbers and versions into
    "IEA02 '999999999' does not match ISA13 '999999999'". Envelope values stay readable;
    the quoted patient name in another message does not."""
    data = make_835(308, claims=1).replace(b"IEA*1*000000308", b"IEA*1*000000309")
    fid, page = _upload_and_view(api, data)
    detail = api.client.get(f"/v1/files/{fid}", headers=api.auth("auditor")).json()
    assert detail["error_message"] == "IEA02 '000000309' does not match ISA13 '000000308'"
    assert "IEA02 &#39;000000309&#39; does not match ISA13 &#39;000000308&#39;" in page
    junk = make_835(310, claims=1) + b"SECRETLAST*X~"
    fid, page = _upload_and_view(api, junk)
    detail = api.client.get(f"/v1/files/{fid}", headers=api.auth("auditor")).json()
    assert "SECRETLAST" not in detail["error_message"]
    assert "SECRETLAST" not in page
