"""Startup secret checks: placeholders and exposed key files are refused, values never echoed."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr, ValidationError

from gateway.errors import ConfigError
from gateway.security.secrets import check_secret_file, check_secrets, placeholder_problem
from gateway.settings import Settings, get_settings

REAL = "k3Jq9-vT2xLr8pWm4zYb-Qe7NcuH5dRs0aLf"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "changeme",
        "CHANGE_ME",
        "change-me",
        "password",
        "Password!",
        "secret",
        "example",
        "my-example-key",
        "<placeholder>",
        "xxxxxxxx",
        "000000000000000000",
    ],
)
def test_placeholders_are_recognised(value: str) -> None:
    assert placeholder_problem(value) is not None


@pytest.mark.parametrize("value", [REAL, "correct-horse-battery-staple", "s3cr3t-Th1ng-42-xyz"])
def test_real_values_pass(value: str) -> None:
    assert placeholder_problem(value) is None


@pytest.mark.parametrize("field", ["api_key_pepper", "session_secret"])
def test_settings_refuse_placeholder_without_echoing_it(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"GATEWAY_{field.upper()}", "ChangeMe")
    with pytest.raises(ValidationError) as err:
        get_settings()
    assert f"GATEWAY_{field.upper()}" in str(err.value)
    assert "ChangeMe" not in str(err.value)
    assert "ChangeMe" not in repr(err.value)


def test_secret_never_printed_by_settings() -> None:
    s = get_settings(api_key_pepper=REAL)
    assert REAL not in repr(s)
    assert REAL not in str(s.model_dump())
    assert REAL not in s.model_dump_json()


def test_startup_check_wants_long_keys_and_names_the_setting() -> None:
    s = get_settings(session_secret="short-but-real")
    with pytest.raises(ConfigError) as err:
        check_secrets(s)
    assert "GATEWAY_SESSION_SECRET" in err.value.message
    assert "short-but-real" not in str(err.value)
    check_secrets(get_settings(session_secret=REAL, api_key_pepper=REAL + "x"))


def _key(tmp_path: Path, mode: int) -> Path:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n")
    key.chmod(mode)
    return key


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o640, 0o666, 0o660])
def test_partner_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    profile = SimpleNamespace(
        id="acme", auth=SimpleNamespace(private_key_path=_key(tmp_path, mode), password_env=None)
    )
    with pytest.raises(ConfigError) as err:
        check_secrets(get_settings(), [profile])
    assert "partner acme" in err.value.message
    assert "chmod 600" in err.value.message
    assert "not a real key" not in str(err.value)


def test_partner_key_owner_only_passes(tmp_path: Path) -> None:
    profile = SimpleNamespace(
        id="acme", auth=SimpleNamespace(private_key_path=_key(tmp_path, 0o600), password_env=None)
    )
    check_secrets(get_settings(), [profile])


def test_missing_or_non_regular_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        check_secret_file("k", tmp_path / "absent")
    with pytest.raises(ConfigError, match="not a regular file"):
        check_secret_file("k", tmp_path)


def test_partner_password_placeholder_is_refused() -> None:
    profile = SimpleNamespace(
        id="payer", auth=SimpleNamespace(private_key_path=None, password_env="PAYER_PW")
    )
    with pytest.raises(ConfigError) as err:
        check_secrets(get_settings(), [profile], environ={"PAYER_PW": "password"})
    assert "PAYER_PW" in err.value.message
    check_secrets(get_settings(), [profile], environ={"PAYER_PW": REAL})


def test_settings_files_named_in_settings_are_checked(tmp_path: Path) -> None:
    """Any ``*_key_file`` setting (e.g. a future data key file) gets the same rule."""

    class WithKeyFile(Settings):
        data_key_file: Path | None = None

    with pytest.raises(ConfigError, match="GATEWAY_DATA_KEY_FILE"):
        check_secrets(WithKeyFile(data_key_file=_key(tmp_path, 0o644)))
    check_secrets(WithKeyFile(data_key_file=_key(tmp_path, 0o600)))


def test_secretstr_fields_everywhere_secrets_live() -> None:
    """Every setting whose name says secret/key/password/pepper is a ``SecretStr``.

    ``active_data_key`` names a key id (which key of GATEWAY_DATA_KEYS is active), not a key.
    """
    not_secret = {"active_data_key"}
    checked = 0
    for name, field in Settings.model_fields.items():
        if name in not_secret:
            continue
        if any(w in name for w in ("secret", "password", "pepper", "token")) or name.endswith(
            ("_key", "_data_key")
        ):
            assert "SecretStr" in str(field.annotation), name
            checked += 1
    assert checked >= 3  # data_keys, api_key_pepper, session_secret, s3 secret key ...


def test_refused_secret_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError):
        check_secrets(get_settings(api_key_pepper=SecretStr("tiny-pepper")))
    assert "tiny-pepper" not in caplog.text
