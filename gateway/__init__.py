"""Remittance Gateway: intake, parsing, reconciliation and refunds for X12 835/837."""

__version__ = "0.1.0"
