"""Implementation-guide (SNIP 1-4 style) validation through pyx12, as our own findings.

Opt-in and kept out of every hot path: pyx12 walks its XML guide maps segment by segment in
pure Python: measured 2.8-4.5 s per MB on corpus files (x12_many_claims.txt, 330 KB: 1.5 s)
against 0.06-0.14 s per MB for our own parser, so ``gateway validate`` runs it only with
``--ig``.

pyx12 is given a normalised copy of the file (our lexer's segments, one per line), so BOMs,
indentation and line breaks that pyx12 cannot read do not hide real guide errors, and its
segment counter equals our file-level segment number: every finding is then located in the
original bytes (byte offset and line) with the parser's own ``locate``. Whatever pyx12 raises
on a bad file becomes an ``ig_engine_error`` finding instead of a traceback.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyx12.errors
import pyx12.params
import pyx12.x12n_document

from parsers.errors import ERROR, WARNING, Finding, Location, X12Error
from parsers.x12.lexer import Lexer, locate

#: what pyx12 raises on inputs it cannot handle (its own errors, and plain Python errors from
#: indexing into short segments, as on sample_835.txt)
PYX12_FAILURES = (
    pyx12.errors.EngineError,
    pyx12.errors.X12Error,
    pyx12.errors.IsValidError,
    pyx12.errors.X12PathError,
    pyx12.errors.XML_Reader_Error,
    IndexError,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
)


@contextmanager
def _quiet_pyx12() -> Iterator[None]:
    """pyx12 logs every error at ERROR level; we report them as findings instead."""
    log = logging.getLogger("pyx12")
    handler = logging.NullHandler()
    saved = log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = saved


def normalise(data: bytes) -> tuple[str, Lexer]:
    """The file as one segment per line, and the lexer that read it (for ``locate``).

    Raises ``X12Error`` when our own lexer cannot read the file.
    """
    lexer = Lexer(data)
    parts: list[str] = []
    for seg in lexer:
        parts.append(seg)
        parts.append(lexer.delimiters.segment if lexer.delimiters.segment != "\n" else "")
        parts.append("\n")
    return "".join(parts), lexer


def run_pyx12(text: str) -> tuple[bool, dict[str, Any]]:
    """pyx12 over ``text``: (valid, its JSON error tree). Raises what pyx12 raises."""
    param = pyx12.params.ParamsBase()
    out = io.StringIO()
    with _quiet_pyx12():
        valid = pyx12.x12n_document.x12n_document(param, io.StringIO(text), None, None, None, out)
    doc: dict[str, Any] = json.loads(out.getvalue()) if out.getvalue() else {}
    return bool(valid), doc


def validate_ig(data: bytes) -> list[Finding]:
    """Implementation-guide findings for ``data`` (empty when pyx12 finds nothing)."""
    try:
        text, lexer = normalise(data)
    except X12Error as exc:
        return [
            Finding(
                "ig_skipped",
                f"not validated against the guide: {exc.reason}",
                WARNING,
                exc.location,
            )
        ]
    try:
        valid, doc = run_pyx12(text)
    except pyx12.errors.EngineError as exc:
        message = str(exc)
        if message.startswith("Map not found"):
            return [
                Finding(
                    "ig_no_map",
                    f"pyx12 has no guide map for this file ({message}); "
                    "not validated against the guide",
                    WARNING,
                    Location(),
                )
            ]
        return [_engine_error(exc)]
    except PYX12_FAILURES as exc:
        return [_engine_error(exc)]
    findings = list(_walk(doc))
    if not valid and not doc:
        findings.append(
            Finding(
                "ig_unreadable",
                "pyx12 could not read the interchange header "
                "(it needs a fixed-width 106-character ISA)",
                ERROR,
                Location(segment_number=1, segment_id="ISA"),
            )
        )
    _resolve(data, lexer, findings)
    return findings


def _engine_error(exc: BaseException) -> Finding:
    return Finding(
        "ig_engine_error",
        f"pyx12 stopped on this file ({type(exc).__name__}: {exc}); guide validation is incomplete",
        ERROR,
        Location(),
    )


def _walk(doc: dict[str, Any]) -> Iterator[Finding]:
    for isa in doc.get("interchanges", []):
        icn = str(isa.get("isa_trn_set_id") or "")
        for err in isa.get("errors", []):
            yield _finding(
                "interchange", err, Location(segment_id="ISA", interchange_control_number=icn)
            )
        for gs in isa.get("groups", []):
            gcn = str(gs.get("gs_control_num") or "")
            for err in gs.get("errors", []):
                yield _finding(
                    "group",
                    err,
                    Location(
                        segment_id="GS", interchange_control_number=icn, group_control_number=gcn
                    ),
                )
            for st in gs.get("transactions", []):
                tcn = str(st.get("trn_set_control_num") or "")
                for err in st.get("errors", []):
                    yield _finding(
                        "transaction",
                        err,
                        Location(
                            segment_id="ST",
                            interchange_control_number=icn,
                            group_control_number=gcn,
                            transaction_control_number=tcn,
                        ),
                    )
                for seg in st.get("segments", []):
                    yield from _segment(seg, icn, gcn, tcn)


def _segment(seg: dict[str, Any], icn: str, gcn: str, tcn: str) -> Iterator[Finding]:
    number = int(seg.get("cur_line") or 0)
    seg_id = str(seg.get("seg_id") or "")
    tx_seg = seg.get("seg_count")

    def loc(element: int | None = None) -> Location:
        return Location(
            segment_number=number,
            segment_id=seg_id,
            element=element,
            transaction_segment_number=tx_seg,
            interchange_control_number=icn,
            group_control_number=gcn,
            transaction_control_number=tcn,
        )

    for err in seg.get("errors", []):
        yield _finding("segment", err, loc())
    for ele in seg.get("elements", []):
        for err in ele.get("errors", []):
            yield _finding("element", err, loc(ele.get("ele_pos")), ele.get("ele_ref_num"))


def _finding(level: str, err: dict[str, Any], loc: Location, ref: str | None = None) -> Finding:
    code = str(err.get("err_cde") or "").lower()
    message = str(err.get("err_str") or "guide violation")
    if ref:
        message += f" [element {ref}]"
    return Finding(f"ig_{level}_{code}" if code else f"ig_{level}", message, ERROR, loc)


def _resolve(data: bytes, lexer: Lexer, findings: list[Finding]) -> None:
    numbers = [f.location.segment_number for f in findings if f.location.segment_number]
    if not numbers:
        return
    where = locate(data, lexer.spans, numbers)
    for f in findings:
        hit = where.get(f.location.segment_number)
        if hit is not None:
            f.location.byte_offset, f.location.line = hit
