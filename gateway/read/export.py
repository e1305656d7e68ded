"""Export JSON Schemas of the read models to ``gateway/read/json/*.schema.json``, the way
``schemas.export`` does for the canonical models (serialization mode: what the CLI's
``--json`` and the API emit). A test keeps the committed files equal to a fresh export.

    python -m gateway.read.export            # rewrite gateway/read/json/
    python -m gateway.read.export --check    # exit 1 when the committed files are stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.read.batches import BatchProblemRead, BatchRead
from gateway.read.credits import CaseRead, CreditRead
from gateway.read.reports import Cms838Read, CreditReportRead
from gateway.read.variances import ExceptionRead, LineVarianceRead, VarianceRead
from gateway.read.worklist import CaseDetail, CaseList
from schemas.export import stale_files, write_all

JSON_DIR = Path(__file__).resolve().parent / "json"
#: every read model the gateway prints; sub-models appear in ``$defs``
MODELS: tuple[type, ...] = (
    CreditRead,
    CaseRead,
    BatchRead,
    BatchProblemRead,
    VarianceRead,
    LineVarianceRead,
    ExceptionRead,
    CreditReportRead,
    Cms838Read,
    CaseList,
    CaseDetail,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.read.export", description=__doc__)
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="target directory")
    parser.add_argument("--check", action="store_true", help="exit 1 when the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out, MODELS)
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.out, MODELS):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
