"""Load and validate outbound file layouts from ``mappings/layouts/*.yaml``.

A layout describes records (header, detail, trailer) as ordered fields. A field takes its value
from the batch (header/trailer) or the row (detail) by ``name``, is a ``literal``, or is a
``control`` total (``record_count``, ``amount_sum``). Formats: text, money (2 decimals), cents
(integer cents, for fixed-width amounts), date (with ``date_format``), int.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappings.loader import MappingError, load_file, load_folder

LAYOUT_DIR = Path(__file__).resolve().parent / "layouts"


CODE = "outbound_layout_invalid"


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    literal: str | None = None
    control: Literal["record_count", "amount_sum"] | None = None
    header: str | None = None
    format: Literal["text", "money", "cents", "date", "int"] = "text"
    date_format: str = "%Y-%m-%d"
    width: int | None = None
    align: Literal["left", "right"] = "left"
    pad: str = " "
    truncate: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        sources = [s for s in (self.name, self.literal, self.control) if s is not None]
        if len(sources) != 1:
            raise ValueError("each field needs exactly one of name, literal, control")
        if len(self.pad) != 1:
            raise ValueError("pad must be one character")
        return self


class Records(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    header: list[FieldSpec] = []
    detail: list[FieldSpec]
    trailer: list[FieldSpec] = []


class Layout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    document: Literal["refund_transmittal", "offset", "dispute", "patient_refunds", "report"]
    format: Literal["csv", "fixed"]
    delimiter: str = ","
    line_ending: str = "\n"
    filename: str
    column_headers: bool = False
    #: most detail records one file may carry (MACs: 20 ICNs per check); more → more batches
    max_records: int | None = Field(default=None, ge=1)
    records: Records

    @model_validator(mode="after")
    def _fixed_widths(self) -> Layout:
        if self.format == "fixed":
            for kind in ("header", "detail", "trailer"):
                for f in getattr(self.records, kind):
                    if f.width is None:
                        raise ValueError(f"fixed-width layout: a {kind} field has no width")
        return self


def load_layout(path: Path) -> Layout:
    return load_file(Layout, path, code=CODE)


def load_layouts(directory: Path = LAYOUT_DIR) -> dict[str, Layout]:
    return {layout.name: layout for _, layout in load_folder(Layout, directory, code=CODE)}


def get_layout(name: str, *, document: str | None = None, directory: Path = LAYOUT_DIR) -> Layout:
    """The layout called ``name`` (checked to be for ``document``); a clear error otherwise."""
    layouts = load_layouts(directory)
    layout = layouts.get(name)
    if layout is None:
        raise MappingError(
            directory,
            [
                (
                    "name",
                    f"no outbound layout named {name!r} (known: "
                    f"{', '.join(sorted(layouts)) or 'none'})",
                )
            ],
            code=CODE,
        )
    if document is not None and layout.document != document:
        raise MappingError(
            directory,
            [("document", f"layout {name!r} is for {layout.document} documents, not {document}")],
            code=CODE,
        )
    return layout
