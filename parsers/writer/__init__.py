"""Canonical models back to X12 5010 bytes: 835 remittances and 837 claim submissions.

Pure: models in, ``bytes`` out; no clock is read unless the caller leaves ``Envelope.date``
empty. Only the segments our parsers model are written, in implementation-guide order, so
``parsers.parse(write_835(remits))`` gives back the same figures. The envelope is complete and
self-consistent: a fixed-width 106-byte ISA, one GS per implementation guide (GS08), ST/SE with
the real segment count, GE/IEA with the real transaction/group counts and echoed control numbers.

Values are checked before they are written: a value holding one of the four delimiters (or a line
break) would silently change the structure of the file, so it raises ``X12WriteError`` naming the
segment and element (never the value itself, which may be PHI).

Normalisations (the parsed result equals the input except for these):
- amounts are written in X12 R form (no exponent, no trailing zeros): ``Decimal("10.50")`` is
  ``10.5``, which parses back to an equal Decimal;
- an 837 date range with only a start date is written as a single D8 date (parsed back as a
  one-day range);
- header REF*EV (835), REF*F8 and REF*G1 (837) are written from ``receiver_id``,
  ``original_claim_number`` and ``prior_authorization`` when ``references`` lacks them, so they
  appear in the parsed ``references`` too;
- 837 submissions of different kinds (837P/I/D) go to separate functional groups, in the order in
  which each kind first appears.

Modules: ``segments`` (the checked segment builder, the value formats, the NM1/N3/N4/CAS both
transactions write), ``envelope`` (ISA/GS/GE/IEA around the sets, control numbers),
``remittance_835`` and ``claim_837``. The names exported here are the writer's interface.
"""

from parsers.writer.claim_837 import GUIDES_837, write_837
from parsers.writer.envelope import STANDARD_DELIMITERS, Envelope
from parsers.writer.remittance_835 import GUIDE_835, write_835
from parsers.writer.segments import X12WriteError, format_amount

__all__ = [
    "GUIDES_837",
    "GUIDE_835",
    "STANDARD_DELIMITERS",
    "Envelope",
    "X12WriteError",
    "format_amount",
    "write_835",
    "write_837",
]
