"""Partner profiles: the shipped examples load, and bad profiles say file, field and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.partners import configured_partners
from gateway.settings import get_settings
from gateway.sftp.hostkeys import host_keys
from mappings.loader import MappingError
from mappings.partners import (
    PARTNERS_DIR,
    load_partner,
    load_partners,
    parse_partner,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAUoj6h6CgMynho7oPi+DCyVMTb3Va3N9Fe91hlxu7uj"


def _good(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "acme",
        "name": "Acme Clearinghouse",
        "role": "clearinghouse",
        "host": "sftp.acme.example",
        "port": 2222,
        "username": "prov",
        "auth": {"private_key_path": "/etc/gateway/keys/acme"},
        "host_key": f"[sftp.acme.example]:2222 {KEY}",
        "inbox_dir": "/out",
        "archive_dir": "/out/archive",
        "filename_pattern": "*.835",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(MappingError) as info:
        parse_partner(data, "acme.yaml")
    assert str(info.value).startswith("acme.yaml: ")
    return info.value.problems


def test_shipped_example_profiles_are_valid() -> None:
    profiles = load_partners(PARTNERS_DIR)
    assert {"example-clearinghouse", "example-payer"} <= set(profiles)
    payer = profiles["example-payer"]
    assert payer.auth.password_env == "GATEWAY_SFTP_EXAMPLE_PAYER_PASSWORD"
    assert payer.host_key_name == "[sftp.payer.example]:2222"
    assert host_keys(payer.host_key).lookup(payer.host_key_name) is not None


def test_shipped_examples_are_disabled_so_run_never_reaches_example_hosts(tmp_path: Path) -> None:
    assert not any(p.enabled for p in load_partners(PARTNERS_DIR).values())
    assert configured_partners(get_settings()) == {}  # the default folder: nothing to start
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(_good()))
    (tmp_path / "off.yaml").write_text(yaml.safe_dump(_good(id="off", enabled=False)))
    assert list(configured_partners(get_settings(partners_dir=tmp_path))) == ["acme"]


def test_good_profile_defaults() -> None:
    p = parse_partner(_good(), "acme.yaml")
    assert p.enabled
    assert p.after_pull == "archive"
    assert p.retry.attempts >= 1
    assert p.host_key_name == "[sftp.acme.example]:2222"


def test_host_key_is_required() -> None:
    assert ("host_key", "Field required") in _problems(_good(host_key=None))


def test_host_key_must_be_a_known_hosts_line_for_this_host() -> None:
    [(field, reason)] = _problems(_good(host_key="not a key"))
    assert field == "host_key"
    assert "known_hosts" in reason
    [(field, reason)] = _problems(_good(host_key=f"other.example {KEY}"))
    assert field == "host_key"
    assert "[sftp.acme.example]:2222" in reason


@pytest.mark.parametrize(
    "auth",
    [
        {"private_key_path": "/k", "password": "hunter2"},
        {"password_env": "X", "passphrase": "s3cret"},
    ],
)
def test_secrets_in_a_profile_are_refused(auth: dict[str, str]) -> None:
    problems = _problems(_good(auth=auth))
    assert problems[0][0].startswith("auth.")
    assert "secrets must not be stored" in problems[0][1]


def test_exactly_one_auth_method() -> None:
    [(field, reason)] = _problems(_good(auth={"private_key_path": "/k", "password_env": "PW"}))
    assert field == "auth"
    assert "exactly one" in reason
    [(field, _)] = _problems(_good(auth={"password_env": "lower-case"}))
    assert field == "auth.password_env"


def test_password_comes_from_the_named_environment_variable() -> None:
    p = parse_partner(_good(auth={"password_env": "ACME_PW"}), "acme.yaml")
    assert p.auth.password({"ACME_PW": "from-env"}) == "from-env"
    with pytest.raises(Exception, match="ACME_PW is not set"):
        p.auth.password({})


def test_archive_folder_required_when_archiving() -> None:
    [(field, reason)] = _problems(_good(archive_dir=None))
    assert field == "archive_dir"
    assert "after_pull" in reason
    assert parse_partner(_good(archive_dir=None, after_pull="delete"), "x").archive_dir is None


def test_role_specific_folders_and_acks() -> None:
    assert _problems(_good(role="payer"))[0][0] == "outbound_dir"
    assert _problems(_good(inbox_dir=None, archive_dir=None))[0][0] == "inbox_dir"
    assert _problems(_good(send_acks=True))[0][0] == "ack_dir"


def test_unknown_fields_and_bad_values_are_named() -> None:
    problems = dict(_problems(_good(port=0, polling="often", filename_pattern="a/b")))
    assert set(problems) == {"port", "polling", "filename_pattern"}


def test_load_reports_yaml_errors_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: [unclosed\n")
    with pytest.raises(MappingError) as info:
        load_partner(bad)
    assert info.value.source == str(bad)
    assert info.value.problems[0][0].startswith("line ")


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    import yaml

    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump(_good()))
    with pytest.raises(MappingError) as info:
        load_partners(tmp_path)
    assert info.value.problems[0][0] == "id"
    assert "already used" in info.value.problems[0][1]
