"""X12 lexing and envelope handling shared by every transaction parser."""
