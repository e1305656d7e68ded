"""deploy/: the YAML parses and the names agree (Docker and Kubernetes cannot run in CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gateway.cli import app as cli_app
from gateway.settings import Settings
from tests.integration.helpers import ROOT

DEPLOY = ROOT / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for p in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for d in _docs(p):
            if d.get("kind") != "Kustomization":
                out[(d["kind"], d["metadata"]["name"])] = d
    return out


def _commands() -> set[str]:
    from typer.main import get_command

    return set(get_command(cli_app).commands)  # type: ignore[attr-defined]


def test_kubernetes_manifests_reference_each_other() -> None:
    objs = _k8s()
    kinds = {k for k, _ in objs}
    assert {"Deployment", "Service", "Job", "Secret", "ConfigMap", "PersistentVolumeClaim"} <= kinds
    kustom = _docs(DEPLOY / "k8s" / "kustomization.yaml")[0]
    assert sorted(kustom["resources"]) == sorted(
        p.name for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml"
    )
    commands = _commands()
    settings_env = {f"GATEWAY_{n.upper()}" for n in Settings.model_fields}
    for (kind, name), d in objs.items():
        if kind == "ConfigMap" or kind == "Secret":
            data = d.get("data") or d.get("stringData") or {}
            assert set(data) <= settings_env, (name, set(data) - settings_env)
        if kind not in ("Deployment", "Job"):
            continue
        spec = d["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        if kind == "Deployment":
            assert (
                d["spec"]["selector"]["matchLabels"].items()
                <= d["spec"]["template"]["metadata"]["labels"].items()
            )
        for c in spec["containers"]:
            assert c["args"][0] in commands, c["args"]
            for ref in c.get("envFrom", []):
                key, target = next(iter(ref.items()))
                wanted = "ConfigMap" if key == "configMapRef" else "Secret"
                assert (wanted, target["name"]) in objs
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            assert mounts <= set(volumes)
            for v in volumes.values():
                if "persistentVolumeClaim" in v:
                    claim = v["persistentVolumeClaim"]["claimName"]
                    assert ("PersistentVolumeClaim", claim) in objs
    svc = objs[("Service", "gateway-api")]
    api = objs[("Deployment", "gateway-api")]
    assert svc["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    port_names = {
        p["name"] for c in api["spec"]["template"]["spec"]["containers"] for p in c["ports"]
    }
    assert svc["spec"]["ports"][0]["targetPort"] in port_names
    probes = api["spec"]["template"]["spec"]["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert objs[("Deployment", "gateway-worker")]["spec"]["replicas"] >= 2


def test_compose_services_and_dockerfile() -> None:
    compose = _docs(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    assert {"postgres", "sftp", "migrate", "api", "worker"} <= set(services)
    commands = _commands()
    for name in ("migrate", "api", "worker"):
        assert services[name]["command"][0] in commands
        env = services[name]["environment"]
        assert "GATEWAY_DATABASE_URL" in env
        assert "@postgres:5432/" in env["GATEWAY_DATABASE_URL"]
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, (name, dep)
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            assert src.startswith(".") or src in compose["volumes"], (name, vol)
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["migrate"]["build"]["dockerfile"] == "deploy/Dockerfile"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") >= 2
    assert "-slim" in dockerfile
    assert "USER 10001" in dockerfile
    assert 'ENTRYPOINT ["gateway"]' in dockerfile
    for word in ("PASSWORD=", "PEPPER=", "SECRET="):
        assert word not in dockerfile
    for src in ("parsers", "schemas", "mappings", "gateway", "pyproject.toml"):
        assert (ROOT / src).exists()
        assert f"COPY {src}" in dockerfile
