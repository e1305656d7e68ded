"""The letters a payer's recovery department (or a patient) accepts the first time.

Every letter carries the sender block recovery clerks look for (provider name, NPI, TIN,
mailing address; for Medicare the CCN and PTAN), the check or EFT reference the operator gave
(a blank to fill in when none was given: never the batch number), per claim the patient, the
member id (MBI for Medicare), the payer's claim number (ICN), dates of service, billed, paid
and refund amounts and the reason in words, and a contact and signature block. A refund that
answers a payer's request is titled as a response and cites the payer's letter number and
date; a dispute cites, per claim, the 835s (TRN, date) that show the money was already
recouped or never paid. The Medicare Secondary Payer sentence is printed only on Medicare
letters for MSP claims. Rows are plain dicts (batches.py builds them); names and member ids in
them come from the raw files (gateway.resolve.parties) and exist only in the PDF's bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.resolve.documents import recipient_lines
from gateway.resolve.pdf import Letter
from mappings.payers import MEDICARE, PayerProfile
from mappings.providers import Certifier
from schemas.serialize import money

MSP_SENTENCE = (
    "All claims in this letter are Medicare Secondary Payer overpayments: another payer is "
    "primary to Medicare for these services."
)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who writes: the provider as its profile and the database know it."""

    name: str
    npi: str
    tin: str
    address: tuple[str, ...] = ()
    ccn: str | None = None
    ptan: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    signer_name: str | None = None
    signer_title: str | None = None

    @classmethod
    def of(cls, header: Mapping[str, Any], cert: Certifier | None) -> Sender:
        return cls(
            name=(cert.name if cert and cert.name else None) or str(header["provider_name"]),
            npi=str(header["provider_npi"]),
            tin=str(header["provider_tin"]),
            address=cert.address if cert else (),
            ccn=cert.ccn if cert else None,
            ptan=cert.ptan if cert else None,
            contact_name=cert.contact_name if cert else None,
            contact_phone=cert.contact_phone if cert else None,
            signer_name=cert.officer_name if cert else None,
            signer_title=cert.officer_title if cert else None,
        )

    def block(self, medicare: bool) -> list[str]:
        lines = [self.name, *self.address, f"NPI {self.npi}", f"TIN {self.tin or '-'}"]
        if medicare:
            lines.append(f"CCN {self.ccn or '-'}   PTAN {self.ptan or '-'}")
        return lines

    def signature(self) -> list[str]:
        contact = self.contact_name or "Patient Financial Services"
        phone = f", telephone {self.contact_phone}" if self.contact_phone else ""
        return [
            self.signer_name or "Authorized signer",
            *([self.signer_title] if self.signer_title else []),
            self.name,
            f"Contact: {contact}{phone}",
        ]


def _d(value: Any) -> str:
    return value.strftime("%m/%d/%Y") if isinstance(value, dt.date) else ""


def _dos(r: Mapping[str, Any]) -> str:
    start, end = _d(r.get("service_from")), _d(r.get("service_to"))
    return start if not end or end == start else f"{start}-{end}"


def is_medicare(profile: PayerProfile | None) -> bool:
    return profile is not None and profile.programme in MEDICARE


@dataclass(frozen=True, slots=True)
class Solicited:
    """The payer's letter a refund answers."""

    number: str
    date: dt.date | None

    def cite(self) -> str:
        return self.number + (f" dated {_d(self.date)}" if self.date else "")


def transmittal(
    *,
    kind: str,
    batch: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    profile: PayerProfile | None,
    sender: Sender,
    check_reference: str | None,
    solicited: Solicited | None = None,
) -> Letter:
    """Refund transmittal or offset authorisation, voluntary or in answer to a payer letter."""
    medicare = is_medicare(profile)
    refund = kind == "refund_transmittal"
    total = sum((r["amount"] for r in rows), Decimal(0))
    payer = profile.name if profile else str(batch["payer_id"])
    if solicited is not None:
        what = "Refund" if refund else "Authorization to Offset"
        title = f"Response to Overpayment Request {solicited.cite()}: {what}"
        opening = (
            f"In response to your overpayment request {solicited.cite()}, {sender.name} "
            f"has reviewed the claims below and agrees that they were overpaid."
        )
    else:
        title = (
            "Voluntary Refund of Overpayments" if refund else "Authorization to Offset Overpayments"
        )
        opening = (
            f"{sender.name} identified the overpayments below on claims paid by {payer} and "
            "is returning them voluntarily."
        )
    paragraphs = [
        opening,
        (
            f"Enclosed is our refund of {money(total)} for {len(rows)} claim(s), by the check "
            "or EFT referenced above."
            if refund
            else f"We authorize you to recoup {money(total)} for {len(rows)} claim(s) from "
            f"future payments. Please reference {batch['batch_id']} in the PLB adjustment."
        ),
    ]
    if medicare and batch.get("msp_flag") == "Y":
        paragraphs.append(MSP_SENTENCE)
    facts: list[tuple[str, str | None]] = [
        ("Check/EFT reference" if refund else "Offset reference", check_reference),
        ("Refund total" if refund else "Offset total", money(total)),
        ("Our batch", str(batch["batch_id"])),
        ("Claims", str(len(rows))),
    ]
    if solicited is not None:
        facts[2:2] = [
            ("Your letter number", solicited.number),
            ("Your letter date", _d(solicited.date) or None),
        ]
    member = "MBI" if medicare else "Member ID"
    return Letter(
        title=title,
        date=batch["created_on"],
        sender=sender.block(medicare),
        recipient=recipient_lines(profile, str(batch["payer_id"])),
        paragraphs=paragraphs,
        facts=facts,
        columns=[
            "Patient",
            member,
            "Payer Claim No. (ICN)",
            "Patient Acct",
            "Dates of Service",
            "Billed",
            "Paid",
            "Refund",
            "Reason",
        ],
        widths=[1.7, 1.2, 1.5, 1.2, 1.3, 0.8, 0.8, 0.8, 2.2],
        rows=[
            [
                str(r.get("patient_name") or ""),
                str(r.get("member_id") or ""),
                str(r["payer_claim_control_number"]),
                str(r["patient_control_number"]),
                _dos(r),
                money(r["billed"]),
                money(r["original_paid"]),
                money(r["amount"]),
                str(r["reason"]),
            ]
            for r in rows
        ],
        totals=[("Claims", str(len(rows))), ("Total", money(total))],
        landscape=True,
        signature=sender.signature(),
        footer="Questions about this letter: call the contact above, quoting our batch "
        f"{batch['batch_id']}.",
    )


def dispute(
    *,
    batch: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    profile: PayerProfile | None,
    sender: Sender,
) -> Letter:
    """Dispute of a payer's refund requests, each row citing its evidence (835s and TRNs)."""
    medicare = is_medicare(profile)
    total = sum((r["amount"] for r in rows), Decimal(0))
    letters = sorted({str(r["request_reference"]) for r in rows if r["request_reference"]})
    return Letter(
        title="Dispute of Overpayment Refund Request"
        + (f" {', '.join(letters)}" if letters else ""),
        date=batch["created_on"],
        sender=sender.block(medicare),
        recipient=recipient_lines(profile, str(batch["payer_id"])),
        paragraphs=[
            "We reviewed your refund requests against our remittance and account records. "
            "For the claims below we dispute all or part of the amount requested, for the "
            "reason stated per claim; the evidence column names the remittances (835, with "
            "their check/EFT trace numbers) that show it. Undisputed amounts are handled "
            "separately. Please do not recoup the disputed amounts.",
        ],
        facts=[("Our reference", str(batch["batch_id"])), ("Total disputed", money(total))],
        columns=[
            "Your Letter",
            "Patient",
            "Payer Claim No. (ICN)",
            "Patient Acct",
            "Requested",
            "Agreed",
            "Disputed",
            "Reason",
            "Evidence",
        ],
        widths=[1.2, 1.4, 1.4, 1.5, 0.8, 0.8, 0.8, 1.7, 2.6],
        rows=[
            [
                " ".join(x for x in (str(r["request_reference"]), _d(r.get("request_date"))) if x),
                str(r.get("patient_name") or ""),
                str(r["payer_claim_control_number"]),
                str(r["patient_control_number"]),
                money(r["requested"]),
                money(r["agreed"]),
                money(r["amount"]),
                str(r["reason"]),
                str(r.get("evidence") or ""),
            ]
            for r in rows
        ],
        totals=[("Requests disputed", str(len(rows))), ("Total disputed", money(total))],
        landscape=True,
        signature=sender.signature(),
        footer="Please correct or withdraw these requests; do not recoup disputed amounts.",
    )


def patient_letter(
    *, row: Mapping[str, Any], day: dt.date, sender: Sender, check_reference: str | None
) -> Letter:
    """The letter that goes with a patient's refund check."""
    name = str(row.get("payee_name") or "") or "Patient"
    return Letter(
        title="Refund of Your Overpayment",
        date=day,
        sender=sender.block(False),
        recipient=[name, *row.get("payee_address", ())],
        paragraphs=[
            f"Dear {name}:",
            f"Our records show that payments on your account {row['account_id'] or '-'} for "
            f"services on {_dos(row) or '-'} exceed what you owe by {money(row['amount'])}. "
            f"Reason: {row['reason']}. Enclosed is a refund check for {money(row['amount'])}.",
            "Please cash or deposit the check promptly. If you believe the amount is wrong, "
            "call the contact below.",
        ],
        facts=[
            ("Account", str(row["account_id"] or "-")),
            ("Refund amount", money(row["amount"])),
            ("Check reference", check_reference),
            ("Dates of service", _dos(row) or None),
        ],
        columns=[],
        rows=[],
        signature=sender.signature(),
    )


def due_diligence_notice(
    *,
    row: Mapping[str, Any],
    day: dt.date,
    sender: Sender,
    state: str,
    notice_due: dt.date,
    escheat_on: dt.date,
) -> Letter:
    """The unclaimed-property due-diligence notice sent before a refund escheats."""
    name = str(row.get("payee_name") or "") or "Patient"
    issued = _d(row.get("issued_on")) or "-"
    return Letter(
        title="Notice of Unclaimed Refund",
        date=day,
        sender=sender.block(False),
        recipient=[name, *row.get("payee_address", ())],
        paragraphs=[
            f"Dear {name}:",
            (
                f"On {issued} we issued you a refund of {money(row['amount'])} for your "
                f"account {row['account_id'] or '-'} (services on {_dos(row) or '-'}). Our "
                "records show it has not been cashed or claimed."
                if row.get("issued_on")
                else f"Our records show a credit balance of {money(row['amount'])} owed to you "
                f"on your account {row['account_id'] or '-'} (services on {_dos(row) or '-'}), "
                "which you have not claimed."
            ),
            f"Unless you contact us before {_d(escheat_on)}, the unclaimed property law of "
            f"{state} requires us to report the refund and remit it to the state; you can "
            "then claim it from the state's unclaimed property program.",
        ],
        facts=[
            ("Account", str(row["account_id"] or "-")),
            ("Refund amount", money(row["amount"])),
            ("Refund issued", issued),
            ("Check reference", str(row.get("check_reference") or "") or None),
            ("Notice due by", _d(notice_due)),
            ("Reported to the state on", _d(escheat_on)),
        ],
        columns=[],
        rows=[],
        signature=sender.signature(),
    )


__all__ = [
    "MSP_SENTENCE",
    "Sender",
    "Solicited",
    "dispute",
    "due_diligence_notice",
    "is_medicare",
    "patient_letter",
    "transmittal",
]
