"""Posted-charges ledger CSV: bytes in, validated rows out (pure).

The canonical layout has a header with ``account_id, patient_control_number, posted_date,
type, party, payer_id, amount, reference``. Practice-management exports with other columns,
date formats, sign conventions and type codes are described by a ``LedgerLayout`` (loaded from
``mappings/ledger/*.yaml``) and translated row by row. Every problem names its CSV line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from parsers.codes import procedure_code, revenue_code

CANONICAL_COLUMNS = (
    "account_id",
    "patient_control_number",
    "posted_date",
    "type",
    "party",
    "payer_id",
    "amount",
    "reference",
)
#: optional line detail of a charge: which billed line it is (REF*6R) or its code and date
LINE_COLUMNS = ("procedure_code", "revenue_code", "modifiers", "service_date", "units", "line_ref")
#: optional: the department (cost center) the row was posted by, for the repeat-offender report
DEPARTMENT_COLUMN = "department"
REQUIRED_COLUMNS = (
    "account_id",
    "patient_control_number",
    "posted_date",
    "type",
    "party",
    "amount",
)
TYPES = frozenset({"charge", "payment", "adjustment", "refund"})
PARTIES = frozenset({"patient", "payer", "provider"})
MAX_FIELD = 256
#: amounts are NUMERIC(14,2) in the database: at most 12 digits before the decimal point
MAX_AMOUNT_DIGITS = 12


class LedgerError(Exception):
    """The ledger file cannot be read at all (encoding, header)."""

    code = "bad_ledger"

    def __init__(self, reason: str, line: int = 1) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"{reason} (line {line})")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    line: int
    account_id: str
    patient_control_number: str
    posted_date: dt.date
    type: str
    party: str
    payer_id: str
    amount: Decimal
    reference: str
    procedure_code: str = ""
    revenue_code: str = ""
    modifiers: str = ""
    service_date: dt.date | None = None
    units: Decimal | None = None
    line_ref: str = ""
    department: str = ""

    @property
    def line_detail(self) -> tuple[str, str, str, dt.date | None, Decimal | None, str]:
        return (
            self.procedure_code,
            self.revenue_code,
            self.modifiers,
            self.service_date,
            self.units,
            self.line_ref,
        )


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    reason: str

    def describe(self) -> str:
        # column names come from the layout, not the file: left unquoted, they stay readable
        # where stored messages mask quoted file content
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LedgerLayout:
    """How one export maps to the canonical ledger.

    ``columns`` maps canonical name → source header. ``type_codes`` maps a source code (from the
    ``type`` column) to (type, party); when it is set, the source needs no ``party`` column.
    ``sign``: "positive" (all amounts positive) or "signed" (credits negative: the absolute
    value is taken and the type decides). In either, a negative ``charge`` is a charge
    reversal or late credit and keeps its sign: it nets against the charges, never adds to them.
    The line columns (``LINE_COLUMNS``) and the department are optional in every layout.
    """

    name: str
    columns: dict[str, str]
    date_format: str = "%Y-%m-%d"
    sign: str = "positive"
    type_codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    delimiter: str = ","
    default_payer_column: str = ""


CANONICAL = LedgerLayout(
    name="canonical", columns={c: c for c in (*CANONICAL_COLUMNS, *LINE_COLUMNS, DEPARTMENT_COLUMN)}
)


@dataclass(slots=True)
class LedgerResult:
    layout: str
    rows: list[LedgerRow]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:4096]:
        raise LedgerError("file contains NUL bytes: not a text CSV")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LedgerError(f"not valid UTF-8 at byte {exc.start}", line) from None


def read_header(data: bytes, delimiter: str = ",") -> list[str]:
    head = data[:65536]
    if len(data) > len(head):  # do not split a multi-byte character at the cut
        head = head[: len(head.rsplit(b"\n", 1)[0]) or len(head)]
    text = _decode(head)
    first = text.splitlines()[0] if text.strip() else ""
    return [h.strip() for h in next(csv.reader([first], delimiter=delimiter), [])]


def sniff_layout(data: bytes, layouts: list[LedgerLayout]) -> LedgerLayout | None:
    """The layout whose columns the header carries (canonical first), or None."""
    for layout in [CANONICAL, *layouts]:
        try:
            header = set(read_header(data, layout.delimiter))
        except LedgerError:
            return None
        needed = {layout.columns[c] for c in REQUIRED_COLUMNS if c in layout.columns}
        if needed and needed <= header:
            return layout
    return None


def parse_ledger(data: bytes, layout: LedgerLayout = CANONICAL) -> LedgerResult:
    """All rows and all row errors; a file with any error must not be loaded."""
    text = _decode(data)
    if not text.strip():
        raise LedgerError("file is empty")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [
        layout.columns[c]
        for c in REQUIRED_COLUMNS
        if c in layout.columns and layout.columns[c] not in header
    ]
    if layout.type_codes:
        missing = [m for m in missing if m != layout.columns.get("party")]
    if missing:
        raise LedgerError(f"header lacks column(s) {', '.join(missing)} for layout {layout.name!r}")
    rows: list[LedgerRow] = []
    errors: list[RowError] = []
    try:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                errors.append(RowError(line, "*", "more fields than the header has"))
                continue
            row = _row(raw, line, layout, errors)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:  # e.g. a field beyond csv's size limit: the file is unreadable
        raise LedgerError(f"not a readable CSV: {exc}", reader.line_num + 1) from None
    return LedgerResult(layout.name, rows, errors)


def _row(
    raw: dict[str, str], line: int, layout: LedgerLayout, errors: list[RowError]
) -> LedgerRow | None:
    def get(name: str) -> str:
        col = layout.columns.get(name)
        value = (raw.get(col) or "").strip() if col else ""
        if len(value) > MAX_FIELD:
            errors.append(RowError(line, col or name, f"longer than {MAX_FIELD} characters"))
            return ""
        return value

    if not any((v or "").strip() for v in raw.values()):
        return None  # blank line
    before = len(errors)
    account = get("account_id")
    pcn = get("patient_control_number")
    if not account:
        errors.append(RowError(line, layout.columns["account_id"], "is empty"))
    if not pcn:
        errors.append(RowError(line, layout.columns["patient_control_number"], "is empty"))
    posted = _posted(get, line, layout, errors)
    kind, party = _kind_party(get, line, layout, errors)
    payer = get("payer_id")
    if party == "payer" and not payer:
        errors.append(
            RowError(
                line,
                layout.columns.get("payer_id", "payer_id"),
                "is required when the party is a payer",
            )
        )
    amount = _amount(get, kind, line, layout, errors)
    detail = _line_detail(get, line, layout, errors)
    if len(errors) > before:
        return None
    return LedgerRow(
        line,
        account,
        pcn,
        posted,
        kind,
        party,
        payer,
        amount.quantize(Decimal("0.01")),
        get("reference"),
        *detail,
        department=get(DEPARTMENT_COLUMN),
    )


def _posted(
    get: Callable[[str], str], line: int, layout: LedgerLayout, errors: list[RowError]
) -> dt.date:
    """The posting date (``date.min`` with an error when it is not one)."""
    date_text = get("posted_date")
    posted = dt.date.min
    try:
        posted = dt.datetime.strptime(date_text, layout.date_format).date()
    except ValueError:
        errors.append(
            RowError(
                line,
                layout.columns["posted_date"],
                f"{date_text!r} is not a date in format {layout.date_format}",
            )
        )
    return posted


def _kind_party(
    get: Callable[[str], str], line: int, layout: LedgerLayout, errors: list[RowError]
) -> tuple[str, str]:
    """What the row is and who paid it: through the layout's code table, or as written."""
    type_text = get("type")
    if layout.type_codes:
        mapped = layout.type_codes.get(type_text)
        if mapped is None:
            errors.append(
                RowError(line, layout.columns["type"], f"unknown transaction code {type_text!r}")
            )
            kind, party = "charge", "provider"
        else:
            kind, party = mapped
    else:
        kind, party = type_text.lower(), get("party").lower()
        if kind not in TYPES:
            errors.append(
                RowError(
                    line,
                    layout.columns["type"],
                    f"{type_text!r} is not one of {', '.join(sorted(TYPES))}",
                )
            )
        if party not in PARTIES:
            errors.append(
                RowError(
                    line,
                    layout.columns.get("party", "party"),
                    f"{party!r} is not one of {', '.join(sorted(PARTIES))}",
                )
            )
    return kind, party


def _amount(
    get: Callable[[str], str],
    kind: str,
    line: int,
    layout: LedgerLayout,
    errors: list[RowError],
) -> Decimal:
    """The row's amount, positive except a charge's; an error when out of range or scale."""
    amount_text = get("amount").replace("$", "").replace(",", "")
    if amount_text.startswith("(") and amount_text.endswith(")"):
        amount_text = "-" + amount_text[1:-1]
    amount = Decimal(0)
    try:
        amount = Decimal(amount_text)
        if not amount.is_finite():
            raise InvalidOperation
        # Check size and scale before any arithmetic: 1E+999999999 is a valid Decimal whose
        # abs() or quantize() would raise Overflow/InvalidOperation instead of a row error.
        if layout.sign == "signed" and kind != "charge":
            amount = amount.copy_abs()
        if amount == 0 or (amount < 0 and kind != "charge"):
            errors.append(
                RowError(
                    line, layout.columns["amount"], f"{amount_text!r} must be a positive amount"
                )
            )
        elif amount.adjusted() >= MAX_AMOUNT_DIGITS:
            errors.append(
                RowError(
                    line,
                    layout.columns["amount"],
                    f"{amount_text!r} is larger than the largest amount "
                    f"({MAX_AMOUNT_DIGITS} digits before the decimal point)",
                )
            )
        elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
            errors.append(
                RowError(
                    line, layout.columns["amount"], f"{amount_text!r} has more than two decimals"
                )
            )
    except InvalidOperation:
        errors.append(
            RowError(line, layout.columns["amount"], f"{amount_text!r} is not a decimal amount")
        )
    return amount


def _line_detail(
    get: Callable[[str], str], line: int, layout: LedgerLayout, errors: list[RowError]
) -> tuple[str, str, str, dt.date | None, Decimal | None, str]:
    """The optional line columns: codes as text, a service date, units."""
    day: dt.date | None = None
    day_text = get("service_date")
    if day_text:
        try:
            day = dt.datetime.strptime(day_text, layout.date_format).date()
        except ValueError:
            errors.append(
                RowError(
                    line,
                    layout.columns["service_date"],
                    f"{day_text!r} is not a date in format {layout.date_format}",
                )
            )
    units: Decimal | None = None
    units_text = get("units")
    if units_text:
        try:
            units = Decimal(units_text)
            if not units.is_finite() or units.adjusted() >= 10:
                raise InvalidOperation
        except InvalidOperation:
            errors.append(
                RowError(line, layout.columns["units"], f"{units_text!r} is not a number of units")
            )
            units = None
    return (
        procedure_code(get("procedure_code")),
        revenue_code(get("revenue_code")),
        get("modifiers").upper(),
        day,
        units,
        get("line_ref"),
    )
