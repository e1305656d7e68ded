"""Startup checks that refuse placeholder secrets and key files other users can read.

Secrets reach the gateway only from the environment (``GATEWAY_*`` settings, the variable a
partner profile names in ``auth.password_env``) or from files named in settings and profiles
(SFTP private keys, ``*_file`` / ``*_key_path`` settings). They are held as ``SecretStr`` and
every message here names the setting or file, never the value: a refused secret must not end
up in a log or a traceback either.

``refuse_placeholder`` runs when settings load (a validator in ``gateway.settings``);
``check_secrets`` runs at the start of every command that reads secrets (``cli_settings`` in
``gateway.cli.app``: serve in the parent before any worker process, worker, run, keys, ...),
where key files and partner passwords are also checked.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from gateway.errors import ConfigError

#: whole values (case, spaces and punctuation ignored) that are someone's placeholder
PLACEHOLDER_VALUES = frozenset(
    {
        "",
        "changeme",
        "changeit",
        "password",
        "passw0rd",
        "secret",
        "example",
        "placeholder",
        "default",
        "todo",
        "tbd",
        "none",
        "null",
        "xxx",
        "xxxx",
        "admin",
        "letmein",
        "123456",
        "12345678",
        "1234567890",
        "replaceme",
        "yoursecret",
        "yourpassword",
        "mysecret",
        "insecure",
    }
)
#: words that mark a template value wherever they appear in it
PLACEHOLDER_WORDS = (
    "changeme",
    "example",
    "placeholder",
    "replaceme",
    "yoursecret",
    "yourpassword",
    "insertsecret",
    "dummy",
)
#: secrets the gateway itself keys with (HMAC peppers, CSRF derivation) need entropy: at least
#: 32 characters (``secrets.token_urlsafe(32)`` gives 43) of at least 8 different characters, so
#: ``abcd`` or ``abcdabcd...`` is refused; the keys file the gateway generates always passes
MIN_KEY_LENGTH = 32
MIN_DISTINCT_CHARS = 8
#: settings holding our own keying material (must be long); other secrets (e.g. a cloud
#: provider's access key) are only checked for placeholders
KEY_SETTINGS = frozenset({"api_key_pepper", "session_secret"})
KEY_SUFFIXES = ("_data_key", "_encryption_key", "_hmac_key")
#: settings that name a file holding a secret
FILE_SUFFIXES = ("_key_file", "_key_path", "_secret_file", "_password_file")


class _Profile(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def auth(self) -> Any: ...


def placeholder_problem(value: str) -> str | None:
    """Why ``value`` looks like a placeholder, or None. Never includes the value."""
    norm = re.sub(r"[^a-z0-9]", "", value.lower())
    if norm in PLACEHOLDER_VALUES:
        return "is empty or a well-known placeholder"
    if any(w in norm for w in PLACEHOLDER_WORDS):
        return "looks like a template placeholder"
    if len(set(norm)) == 1:
        return "is one character repeated"
    return None


def refuse_placeholder(name: str, secret: SecretStr | None, *, min_length: int = 0) -> None:
    """Raise ``ConfigError`` naming ``name`` when ``secret`` is a placeholder or too short."""
    if secret is None:
        return
    value = secret.get_secret_value()
    problem = placeholder_problem(value)
    code = "placeholder_secret"
    if problem is None and min_length:
        code = "weak_secret"
    if problem is None and len(value) < min_length:
        problem = f"is shorter than {min_length} characters (weak)"
    if problem is None and min_length and len(set(value)) < MIN_DISTINCT_CHARS:
        problem = f"has fewer than {MIN_DISTINCT_CHARS} different characters (low entropy)"
    if problem:
        raise ConfigError(
            f"secret setting {name} {problem}: set a real secret (e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`) or "
            "unset it to use the generated keys file",
            code=code,
        )


def is_key_setting(name: str) -> bool:
    return name in KEY_SETTINGS or name.endswith(KEY_SUFFIXES)


def check_secret_file(label: str, path: Path) -> None:
    """Refuse a missing secret file or one that group or others can read or change.

    The same rule OpenSSH applies to private keys ("UNPROTECTED PRIVATE KEY FILE").
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"{label}: secret file {path} cannot be read ({exc.strerror or type(exc).__name__})",
            code="secret_file",
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{label}: secret file {path} is not a regular file", code="secret_file")
    if st.st_mode & 0o077:
        raise ConfigError(
            f"{label}: secret file {path} is accessible to group or others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`",
            code="secret_file",
        )


def _secret_fields(settings: Any) -> Iterable[tuple[str, Any]]:
    for name in type(settings).model_fields:
        yield name, getattr(settings, name)


def check_secrets(
    settings: Any, profiles: Iterable[_Profile] = (), *, environ: Mapping[str, str] | None = None
) -> None:
    """The startup check of long-running commands; raises ``ConfigError`` on the first problem.

    - every ``SecretStr`` setting: no placeholder; keying material (pepper, session secret) at
      least 32 characters of at least 8 different ones; the data-key ring parses;
    - every file named by a ``*_key_file``/``*_key_path``/``*_secret_file`` setting and every
      partner's SFTP private key: a regular file only its owner can read;
    - every partner password variable that is set: no placeholder.
    """
    env = environ if environ is not None else os.environ
    for name, value in _secret_fields(settings):
        label = f"GATEWAY_{name.upper()}"
        if isinstance(value, SecretStr):
            refuse_placeholder(
                label, value, min_length=MIN_KEY_LENGTH if is_key_setting(name) else 0
            )
        elif isinstance(value, Path) and name.endswith(FILE_SUFFIXES):
            check_secret_file(label, value)
    if getattr(settings, "data_keys", None) is not None:
        from gateway.security.crypto import KeyRing

        KeyRing.from_settings(settings)  # malformed or short data keys: refused at startup
    for profile in profiles:
        auth = profile.auth
        key_path = getattr(auth, "private_key_path", None)
        if key_path is not None:
            check_secret_file(f"partner {profile.id} auth.private_key_path", Path(key_path))
        var = getattr(auth, "password_env", None)
        if var and var in env:
            refuse_placeholder(f"{var} (partner {profile.id} password)", SecretStr(env[var]))
