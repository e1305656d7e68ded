"""Per-person console users: a table, argon2 password hashes, and sign-in to a ``Principal``.

API keys stay for machines (``gateway.api.keys``); a person signs in to the console with a
username and password, so sessions, assignments and the audit log name that person
(``user:<name>``).
"""
