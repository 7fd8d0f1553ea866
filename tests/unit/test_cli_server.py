"""`sftjob validate --server`: the dry run it sends and what it makes of the answers, with a
stand-in for the cluster's CustomObjectsApi (the devcluster test of the real apiserver is
tests/integration/test_crd.py; this checks the requests and the exit codes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from kubernetes.client.exceptions import ApiException
from sftjob_cli import server
from sftjob_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tiny-cpu.yaml"


def _error(status: int, message: str) -> ApiException:
    err = ApiException(status=status, reason="refused")
    err.body = json.dumps({"kind": "Status", "message": message})
    return err


class FakeApi:
    """Answers a create by the object's name: `taken` exists (409), `bad` is invalid (422),
    `denied` is forbidden by RBAC (403); anything else is accepted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def create_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("create", args, kwargs))
        name = args[4]["metadata"]["name"]
        if name == "taken":
            raise _error(409, "already exists")
        if name == "bad":
            raise _error(422, 'SFTJob.sftjob.dev "bad" is invalid: spec.nodes: Invalid value')
        if name == "denied":
            raise _error(403, 'sftjobs.sftjob.dev is forbidden: User "u" cannot create')
        return args[4]

    def patch_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("patch", args, kwargs))
        return args[5]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()

    def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Any:
        return server.Cluster(fake, namespace or "team")

    monkeypatch.setattr(server, "connect", connect)
    return fake


def validate_named(tmp_path: Path, name: str, *args: str) -> Result:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["metadata"]["name"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return CliRunner().invoke(main, ["validate", "--server", *args, str(path)])


def test_a_dry_run_create_of_the_manifest_as_written(tmp_path: Path, api: FakeApi) -> None:
    result = validate_named(tmp_path, "fine")
    assert result.exit_code == 0, result.output
    assert "SFTJob/fine: server: accepted (server dry run)" in result.stdout
    ((verb, args, kwargs),) = api.calls
    assert verb == "create"
    assert args[:4] == ("sftjob.dev", "v1alpha1", "team", "sftjobs")
    assert kwargs == {"dry_run": "All", "field_validation": "Strict"}
    written = yaml.safe_load((tmp_path / "fine.yaml").read_text())
    # as written: no placeholder uid, no defaults (the apiserver applies them itself)
    assert args[4] == {**written, "metadata": {"name": "fine", "namespace": "team"}}


def test_namespace_option_wins(tmp_path: Path, api: FakeApi) -> None:
    assert validate_named(tmp_path, "fine", "-n", "other").exit_code == 0
    assert api.calls[0][1][2] == "other"


def test_an_existing_object_is_checked_by_a_dry_run_apply(tmp_path: Path, api: FakeApi) -> None:
    result = validate_named(tmp_path, "taken")
    assert result.exit_code == 0, result.output
    verb, args, kwargs = api.calls[1]
    assert (verb, args[4]) == ("patch", "taken")
    assert kwargs["dry_run"] == "All"
    assert kwargs["_content_type"] == "application/apply-patch+yaml"
    assert kwargs["field_manager"] == server.FIELD_MANAGER and kwargs["force"] is True


def test_the_servers_refusal_fails_and_a_disagreement_is_said(tmp_path: Path, api: FakeApi) -> None:
    result = validate_named(tmp_path, "bad")
    assert result.exit_code == 1
    assert 'server: SFTJob.sftjob.dev "bad" is invalid: spec.nodes' in result.stdout
    assert "the cluster and the offline check disagree" in result.stderr


def test_rbac_denial_is_one_line_and_exit_2(tmp_path: Path, api: FakeApi) -> None:
    result = validate_named(tmp_path, "denied")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        'Error: the cluster refused the dry run: sftjobs.sftjob.dev is forbidden: User "u" '
        "cannot create"
    )


def test_no_kubeconfig_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["validate", "--server", "--kubeconfig", str(tmp_path / "none"), str(EXAMPLE)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: no usable kubeconfig in {tmp_path / 'none'}:")
    assert len(result.stderr.strip().splitlines()) == 1
