"""Password hashing with argon2id (argon2-cffi), and a verification that costs the same
whether or not the user exists.

argon2-cffi compares digests in constant time itself; ``verify`` only adds the dummy check for
an unknown or disabled user, so response time does not tell which usernames exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.errors import InputError

#: the library's defaults (RFC 9106 "low memory" profile: argon2id, t=3, m=64 MiB, p=4)
_HASHER = PasswordHasher()
MIN_LENGTH = 12
#: argon2 hashes any length, but a megabyte password is only a way to burn CPU
MAX_LENGTH = 256
_DUMMY = _HASHER.hash("not-a-password-of-anyone")


def check_policy(password: str) -> None:
    """Refuse a password too short or too long to accept (a typed error, never echoed)."""
    if len(password) < MIN_LENGTH:
        raise InputError(f"a password needs at least {MIN_LENGTH} characters", code="weak_password")
    if len(password) > MAX_LENGTH:
        raise InputError(f"a password is at most {MAX_LENGTH} characters", code="bad_password")
    if password.strip() != password or "\x00" in password:
        raise InputError(
            "a password may not start or end with white space or contain NUL",
            code="bad_password",
        )


def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password`` (policy checked first)."""
    check_policy(password)
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; ``stored=None`` checks a dummy (same cost)."""
    too_long = len(password) > MAX_LENGTH
    if too_long:  # never set (policy), so never right; still pay one hash
        stored, password = None, password[:MAX_LENGTH]
    try:
        ok = _HASHER.verify(stored if stored is not None else _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


__all__ = ["MAX_LENGTH", "MIN_LENGTH", "check_policy", "hash_password", "needs_rehash", "verify"]
