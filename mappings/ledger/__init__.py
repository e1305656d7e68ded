"""Ledger layouts (YAML data files) for practice-management exports."""
