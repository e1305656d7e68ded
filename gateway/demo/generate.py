"""``generate(out_dir, claims=N, seed=S, months=M)``: write the demo half-year and its answers.

Each of the ``M`` months (six by default: March to August 2025) has ``N`` claims, the same
planted scenarios (``planted``, moved by ``calendar.shift``) on its own patients and claims,
and ordinary visits in its calendar month. Claims, 835 runs and 837 batches of different
months share files where they share a day, as a practice's would.

Layout of ``out_dir``::

    837/DRMC_837_YYYYMMDD.x12        weekly claim batches (837P and 837I groups)
    835/<payer>_835_YYYYMMDD.x12     one 835 per payer payment run
    ledger/DRMC_ledger_*.txt         practice-management ledger export (pipe-delimited)
    manifest.json                    files, checkpoints and the --as-of dates
    answers.json                     the credits ``gateway credits --json --status all`` must
                                     print after the checkpoints (every month), plus
                                     variances and counts

The checkpoints are ``calendar.schedule``: each month's checkpoint, then a final run; the
ledger export is cut at each of them. The answers are planted (see ``planted``); the rest of
every month balances to zero.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from gateway.demo.calendar import AS_OF, MONTHS, SHIFT_WEEKS, schedule, service_month, shift
from gateway.demo.clean import Planner, adjudicate, clean_claims
from gateway.demo.model import ZERO, DemoClaim, ExpectedCredit
from gateway.demo.payers import (
    COMM_A,
    PAYERS,
    PROVIDER_NAME,
    PROVIDER_NPI,
    PROVIDER_TIN,
)
from gateway.demo.planted import plant
from gateway.demo.render import DemoFile, payers_in
from gateway.demo.render_835 import remittance_files, resends_for
from gateway.demo.render_837 import claim_files
from gateway.demo.render_ledger import LEDGER_LAYOUT, ledger_files
from gateway.errors import PermanentError
from gateway.progress import Progress, no_progress

CAUSES = (
    "duplicate_payment",
    "coordination_of_benefits",
    "overpayment",
    "patient_overpayment",
    "unexplained",
)
#: the command whose output answers.json holds (after the checkpoints)
CREDITS_COMMAND = ("credits", "--json", "--status", "all")
MIN_CLAIMS = 40
MAX_CLAIMS = 200_000
#: months a demo can span (each needs its own week shift, ``calendar.SHIFT_WEEKS``)
MAX_MONTHS = len(SHIFT_WEEKS)


class DemoError(PermanentError):
    """The demo month cannot be generated as asked."""

    code = "demo_invalid"


@dataclass(frozen=True, slots=True)
class ManifestFile:
    path: str
    kind: str
    day: dt.date
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Ingest these files (in order), then run ``gateway reconcile --as-of as_of``."""

    as_of: dt.date
    files: tuple[str, ...]


@dataclass(slots=True)
class Manifest:
    out_dir: Path
    seed: int
    claims: int
    as_of: dt.date
    checkpoints: list[Checkpoint]
    files: list[ManifestFile] = field(default_factory=list)
    months: int = 1
    credits: list[dict[str, object]] = field(default_factory=list)
    variances: list[dict[str, object]] = field(default_factory=list)

    @property
    def answers_path(self) -> Path:
        return self.out_dir / "answers.json"

    def to_json(self) -> dict[str, object]:
        return {
            "generator": "gateway.demo",
            "format": 1,
            "seed": self.seed,
            "claims": self.claims,
            "months": self.months,
            "as_of": self.as_of.isoformat(),
            "provider": {"name": PROVIDER_NAME, "npi": PROVIDER_NPI, "tin": PROVIDER_TIN},
            "payers": payers_in(PAYERS),
            "ledger_layout": LEDGER_LAYOUT,
            "credits_command": list(CREDITS_COMMAND),
            "checkpoints": [
                {"as_of": c.as_of.isoformat(), "files": list(c.files)} for c in self.checkpoints
            ],
            "files": [
                {
                    "path": f.path,
                    "kind": f.kind,
                    "date": f.day.isoformat(),
                    "sha256": f.sha256,
                    "bytes": f.size,
                }
                for f in self.files
            ],
            "answers": "answers.json",
        }


def _dump(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def plan(
    claims: int, seed: int, months: int = MONTHS
) -> tuple[list[DemoClaim], Planner, list[ExpectedCredit], list[dict[str, object]]]:
    """The whole demo as data (no files): claims, the planner (PLB entries), the answers.

    ``claims`` per month; one planner for all months, so patients, accounts, claim numbers and
    ICNs never repeat from one month to the next."""
    if not MIN_CLAIMS <= claims <= MAX_CLAIMS:
        raise DemoError(f"--claims must be between {MIN_CLAIMS} and {MAX_CLAIMS}")
    if not 1 <= months <= MAX_MONTHS:
        raise DemoError(f"--months must be between 1 and {MAX_MONTHS}")
    runs = schedule(months)
    planner = Planner(seed)
    everything: list[DemoClaim] = []
    credits: list[ExpectedCredit] = []
    variances: list[dict[str, object]] = []
    for k in range(months):
        as_of = AS_OF + shift(k)
        extra: list[DemoClaim] = []

        def extra_clean(
            c: DemoClaim, extra: list[DemoClaim] = extra, as_of: dt.date = as_of
        ) -> None:
            other = planner.new_claim(c.patient, "837P", c.lines[0].service_date)
            extra.append(other)
            adjudicate(planner, other, COMM_A, None, as_of)

        planted = plant(planner, extra_clean, k, runs)
        month = [*planted.claims, *extra]
        month += clean_claims(planner, claims - len(month), service_month(k), as_of)
        everything += month
        credits += planted.credits
        variances += [v.as_json() for v in planted.variances]
    everything.sort(key=lambda c: c.pcn)
    return everything, planner, credits, variances


def answers(
    credits: list[ExpectedCredit], variances: list[dict[str, object]], as_of: dt.date = AS_OF
) -> dict[str, object]:
    rows = sorted(
        (c.as_json() for c in credits),
        key=lambda r: (
            str(r["patient_control_number"]),
            str(r["cause"]),
            str(r["owed_to"]),
            str(r["payer_id"] or ""),
        ),
    )
    by_cause: dict[str, Decimal] = dict.fromkeys(CAUSES, ZERO)
    for c in credits:
        by_cause[c.cause] += c.amount
    statuses = Counter(c.status for c in credits)
    return {
        "as_of": as_of.isoformat(),
        "credits_command": list(CREDITS_COMMAND),
        "credits": rows,
        "variances": variances,
        "counts": {
            "credits": len(rows),
            "by_status": {s: statuses.get(s, 0) for s in ("open", "pending", "resolved")},
            "by_cause": {cause: sum(1 for c in credits if c.cause == cause) for cause in CAUSES},
            "amount_by_cause": {cause: f"{amt:.2f}" for cause, amt in by_cause.items()},
            "government": sum(1 for c in credits if c.government),
            "variances": len(variances),
        },
    }


def generate(
    out_dir: Path,
    *,
    claims: int = 600,
    seed: int = 1,
    months: int = MONTHS,
    progress: Progress = no_progress,
) -> Manifest:
    """Write the demo under ``out_dir`` (created; existing demo files are replaced):
    ``months`` months of ``claims`` claims each.

    ``progress`` hears the files written so far out of all of them."""
    everything, planner, credits, variances = plan(claims, seed, months)
    runs = schedule(months)
    counter = [0]
    files: list[DemoFile] = [
        *claim_files(everything, counter),
        *remittance_files(everything, planner.plb, counter, resends_for(months)),
        *ledger_files(everything, runs[:-1]),
    ]
    files.sort(key=lambda f: (f.day, {"837": 0, "835": 1, "ledger": 2}[f.kind], f.path))
    out_dir = Path(out_dir)
    manifest = Manifest(out_dir, seed, len(everything), runs[-1], [], months=months)
    for n, f in enumerate(files, start=1):
        path = out_dir / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        manifest.files.append(
            ManifestFile(f.path, f.kind, f.day, hashlib.sha256(f.data).hexdigest(), len(f.data))
        )
        progress(n, len(files))
    previous: dt.date | None = None
    for run in runs:
        manifest.checkpoints.append(
            Checkpoint(
                run,
                tuple(
                    f.path for f in files if f.day <= run and (previous is None or f.day > previous)
                ),
            )
        )
        previous = run
    if any(f.day > runs[-1] for f in files):
        raise DemoError("a generated file is dated after the final reconciliation date")
    result = answers(credits, variances, runs[-1])
    manifest.credits = list(result["credits"])  # type: ignore[call-overload]
    manifest.variances = variances
    (out_dir / "answers.json").write_bytes(_dump(result))
    (out_dir / "manifest.json").write_bytes(_dump(manifest.to_json()))
    return manifest
