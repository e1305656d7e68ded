"""The CMS-838 Medicare credit balance report, as CMS asks for it since 1 December 2024.

Providers no longer file it every quarter, nor certify zero balances: a report is written for a
provider number (CCN) only when it has Medicare credits not yet reported; otherwise the command
says there is nothing to file. It covers institutional claims (837I) billed to the Part A/B
MAC: credits whose ``return_method`` is ``report`` (gateway/reconcile/medicare.py). Professional
Part B credits go back through the MAC's voluntary refund form (batches) and never appear here;
credits the provider is returning by claim adjustment are noted, not listed.

A credit is on the report of the quarter when it was identified by the quarter's last day and
not resolved by then, and was not reported in an earlier quarter (``cms838_lines``, unique per
credit: re-running a quarter reproduces its report, a later quarter leaves it out). A pending
credit is a warning, not a detail row; so is a credit Medicare is owed only by the claim's
filing indicator, from a payer that is no known Medicare contractor (``unverified Medicare
payer``), and a credit owed to nobody known on a claim Medicare paid.

One report per provider number, psychiatric and rehabilitation subunits each their own: the
gateway's providers (NPIs) are grouped by the provider profiles (mappings/providers). The
report holds what the form prints: the certification page (provider name and number, quarter
ended, the three boxes, the officer's signature, printed name, title and date, the contact
person and telephone) and detail pages, Part A and Part B apart, with every column of the form
in its order, numbered 1 to 15. A provider number with no profile, or a profile missing a
field, still gets its report with those fields blank; ``missing_fields`` names them.

- ``selection``: which credits open at a quarter's end are detail rows, which are warnings,
  and which are not the CMS-838's at all; the quarter's dates.
- ``report``: ``cms838``, the reports per provider number, their rows and CSV, and what they
  record as reported.
- ``form``: the form's pages as a PDF (certification page, Part A and Part B detail pages).
"""
