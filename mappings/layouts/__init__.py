"""Outbound file layouts (YAML data files): refund transmittals, offsets, reports."""
