"""Every recipe of tests/data/recipes, converted by `sftjob convert`, is accepted by the
devcluster's kube-apiserver (CRD schema and the `sftjob-spec-rules` admission policy) with a
server-side dry-run create, and nothing of it is pruned on the way in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sftjob_cli.main import main
from sftjob_operator.api.identity import GROUP, PLURAL, VERSION

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p for p in (ROOT / "tests" / "data" / "recipes").iterdir() if p.is_file())
BLOCKS = ("scriptArgs", "datasetMixture", "modelConfig", "sftConfig")


def converted(path: Path, namespace: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["convert", str(path)])
    assert result.exit_code == 0, result.output
    manifest: dict[str, Any] = yaml.safe_load(result.stdout)
    manifest["metadata"]["namespace"] = namespace
    return manifest


def dry_run_create(kube: Any, namespace: str, manifest: dict[str, Any]) -> Any:
    from kubernetes import client

    api = client.CustomObjectsApi(kube)
    return api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, manifest, dry_run="All"
    )


def assert_kept(sent: Any, stored: Any, where: str) -> None:
    """Everything sent is stored unchanged (the apiserver may add defaults, never drop)."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), where
        for key, value in sent.items():
            assert key in stored, f"{where}.{key} was pruned by the apiserver"
            assert_kept(value, stored[key], f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(stored) == len(sent), where
        for i, (a, b) in enumerate(zip(sent, stored, strict=True)):
            assert_kept(a, b, f"{where}[{i}]")
    else:
        assert sent == stored, f"{where}: sent {sent!r}, stored {stored!r}"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_converted_recipe_passes_server_side_dry_run(
    crd: None, kube: Any, namespace: str, path: Path
) -> None:
    from kubernetes.client.exceptions import ApiException

    manifest = converted(path, namespace)
    try:
        stored = dry_run_create(kube, namespace, manifest)
    except ApiException as err:
        pytest.fail(f"{path.name} was refused: {err.status} {err.body}")
    assert_kept(manifest["spec"], stored["spec"], "spec")
    assert stored["metadata"]["name"] == manifest["metadata"]["name"]
    assert all(block in stored["spec"] for block in BLOCKS if block in manifest["spec"])
