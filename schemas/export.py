"""Export JSON Schemas of the canonical models to ``schemas/json/*.schema.json``.

The models are stdlib dataclasses (fast to build in the parser); pydantic's ``TypeAdapter`` reads
their annotations to describe them. Schemas are made in *serialization* mode because they describe
what we emit (``schemas.serialize.to_jsonable``, the API and the CLI): Decimals as strings, dates as
ISO strings. A test keeps the committed files equal to a fresh export.

    python -m schemas.export            # rewrite schemas/json/
    python -m schemas.export --check    # exit 1 when the committed files are stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Address, Entity, Reference
from schemas.envelope import Delimiters, FunctionalGroup, Interchange, TransactionHeader
from schemas.remittance import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

__all__ = [
    "JSON_DIR",
    "MODELS",
    "file_name",
    "main",
    "render_all",
    "schema_for",
    "stale_files",
    "write_all",
]

JSON_DIR = Path(__file__).resolve().parent / "json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: every canonical model that leaves the parser; sub-models appear in ``$defs`` as well
MODELS: tuple[type, ...] = (
    Remittance,
    ClaimPayment,
    ServicePayment,
    Adjustment,
    ProviderAdjustment,
    ClaimSubmission,
    Claim,
    ClaimLine,
    OtherPayer,
    Subscriber,
    Entity,
    Address,
    Reference,
    Interchange,
    FunctionalGroup,
    TransactionHeader,
    Delimiters,
)


def file_name(model: type) -> str:
    """``ClaimPayment`` → ``claim_payment.schema.json``."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()
    return f"{snake}.schema.json"


def schema_for(model: type) -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(model).json_schema(mode="serialization")
    return {"$schema": DIALECT, **schema}


def render_all(models: tuple[type, ...] = MODELS) -> dict[str, str]:
    """File name → file text, deterministic (stable key order, trailing newline)."""
    return {
        file_name(model): json.dumps(schema_for(model), indent=2, ensure_ascii=False) + "\n"
        for model in models
    }


def write_all(directory: Path = JSON_DIR, models: tuple[type, ...] = MODELS) -> list[Path]:
    """Write every schema, and remove stale ``*.schema.json`` files of models that are gone."""
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_all(models)
    for stale in directory.glob("*.schema.json"):
        if stale.name not in rendered:
            stale.unlink()
    written = []
    for name, text in rendered.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_files(directory: Path = JSON_DIR, models: tuple[type, ...] = MODELS) -> list[str]:
    """Names that differ from a fresh export (missing, changed or no longer exported)."""
    rendered = render_all(models)
    present = {p.name: p for p in directory.glob("*.schema.json")}
    out = [
        name
        for name, text in rendered.items()
        if name not in present or present[name].read_text(encoding="utf-8") != text
    ]
    out += [name for name in present if name not in rendered]
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="target directory")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 when the files differ from a fresh export",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
