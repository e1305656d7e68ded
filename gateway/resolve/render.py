"""Render outbound files from layouts (pure: data in, bytes out, deterministic).

Money is never truncated or rounded silently: a value that does not fit its field is an error
naming the record, field and width. Control totals are computed here from the rows, so a file's
trailer always agrees with its body.

This is the one place outbound files are rendered, so it is where they are made safe for their
readers: every text cell (data, literals, column headers) that a spreadsheet would run as a
formula is neutralised (``gateway.security.cells``), in CSV and fixed-width files alike (payers
import both into spreadsheets); money, counts and dates are formatted by us and stay numbers. A
line break inside a field is refused in both formats: it would forge records (a fake trailer).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from gateway.errors import PermanentError
from gateway.security.cells import neutralise
from mappings.outbound_layouts import FieldSpec, Layout

_CENT = Decimal("0.01")


class RenderError(PermanentError):
    """The data does not fit the layout (a value too wide, a missing field, a line break):
    says which record and field, and why."""

    code = "layout_error"


Value = str | int | Decimal | dt.date | None


@dataclass(frozen=True, slots=True)
class Rendered:
    filename: str
    content: bytes
    record_count: int
    amount_sum: Decimal


def _format(spec: FieldSpec, value: Value, where: str) -> str:
    if value is None:
        return ""
    fmt = spec.format
    if fmt == "money":
        if not isinstance(value, Decimal):
            raise RenderError(f"{where}: money field needs a Decimal, got {type(value).__name__}")
        return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))
    if fmt == "cents":
        if not isinstance(value, Decimal):
            raise RenderError(f"{where}: money field needs a Decimal, got {type(value).__name__}")
        cents = value.quantize(_CENT, rounding=ROUND_HALF_UP) * 100
        if cents < 0:
            raise RenderError(f"{where}: negative amount {value} cannot be written as cents")
        return str(int(cents))
    if fmt == "date":
        if not isinstance(value, dt.date):
            raise RenderError(f"{where}: date field needs a date, got {type(value).__name__}")
        return value.strftime(spec.date_format)
    if fmt == "int":
        return str(int(value))  # type: ignore[arg-type]
    return neutralise(str(value))


def _fit(spec: FieldSpec, text: str, where: str, fixed: bool) -> str:
    if not fixed or spec.width is None:
        return text
    if len(text) > spec.width:
        if spec.truncate and spec.format == "text":
            return text[: spec.width]
        raise RenderError(
            f"{where}: value of {len(text)} characters does not fit width {spec.width}"
        )
    if spec.align == "right":
        return text.rjust(spec.width, spec.pad)
    return text.ljust(spec.width, spec.pad)


def _record(
    fields: Sequence[FieldSpec],
    data: Mapping[str, Value],
    controls: Mapping[str, Value],
    kind: str,
    index: int,
    fixed: bool,
) -> list[str]:
    out = []
    for spec in fields:
        label = spec.name or spec.control or "literal"
        where = f"{kind} record {index}, field {label!r}"
        if spec.literal is not None:
            text = neutralise(spec.literal)
        elif spec.control is not None:
            text = _format(spec, controls[spec.control], where)
        else:
            assert spec.name is not None
            if spec.name not in data:
                raise RenderError(f"{where}: no value named {spec.name!r} in the data")
            text = _format(spec, data[spec.name], where)
        if any(ch in text for ch in "\r\n"):
            raise RenderError(f"{where}: line breaks are not allowed in a field")
        out.append(_fit(spec, text, where, fixed))
    return out


def render(
    layout: Layout, batch: Mapping[str, Value], rows: Sequence[Mapping[str, Value]]
) -> Rendered:
    """The file for one batch: header, detail rows and trailer with control totals."""
    amount_sum = Decimal(0)
    for r in rows:
        amount = r.get("amount")
        if not isinstance(amount, Decimal):
            raise RenderError(f"every row needs a Decimal amount (got {type(amount).__name__})")
        amount_sum += amount
    controls: dict[str, Value] = {"record_count": len(rows), "amount_sum": amount_sum}
    fixed = layout.format == "fixed"
    lines: list[list[str]] = []
    if layout.records.header:
        lines.append(_record(layout.records.header, batch, controls, "header", 1, fixed))
    if layout.column_headers and not fixed:
        lines.append([neutralise(f.header or f.name or "") for f in layout.records.detail])
    for i, row in enumerate(rows, start=1):
        lines.append(_record(layout.records.detail, row, controls, "detail", i, fixed))
    if layout.records.trailer:
        lines.append(_record(layout.records.trailer, batch, controls, "trailer", 1, fixed))
    if fixed:
        text = "".join("".join(line) + layout.line_ending for line in lines)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=layout.delimiter, lineterminator=layout.line_ending)
        writer.writerows(lines)
        text = buf.getvalue()
    return Rendered(filename(layout, batch), text.encode("utf-8"), len(rows), amount_sum)


_SAFE = set(string.ascii_letters + string.digits + "-_.")


def filename(layout: Layout, batch: Mapping[str, Value]) -> str:
    """Deterministic file name from the layout pattern; only [A-Za-z0-9-_.] survive."""
    try:
        raw = layout.filename.format(**{k: "" if v is None else v for k, v in batch.items()})
    except KeyError as exc:
        raise RenderError(f"file name pattern needs {exc.args[0]!r}") from None
    safe = "".join(ch if ch in _SAFE else "_" for ch in raw)
    if not safe.strip("._") or safe.startswith("."):
        raise RenderError(f"file name {raw!r} is not usable")
    return safe
