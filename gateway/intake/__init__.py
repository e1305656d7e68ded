"""Intake: accept files (store raw bytes durably, then register them) from every channel."""

from gateway.intake.service import AcceptResult, accept_bytes, accept_path, accept_stream

__all__ = ["AcceptResult", "accept_bytes", "accept_path", "accept_stream"]
