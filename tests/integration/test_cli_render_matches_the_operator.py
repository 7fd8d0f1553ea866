"""`sftjob render` prints what the operator creates: every example, applied to the devcluster
with the operator running, gets children that hold exactly what render printed (the
apiserver and the controllers may only add to them: defaults, selectors, status)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sftjob_cli.main import main

from tests.operator_fixtures import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
PLURALS = {
    "ConfigMap": "configmaps",
    "Service": "services",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Job": "jobs",
}


def missing(rendered: Any, live: Any, where: str) -> list[str]:
    """Where the live object lacks, or differs from, what render printed."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [where]
        return [m for k, v in rendered.items() for m in missing(v, live.get(k), f"{where}.{k}")]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [where]
        return [m for i, (a, b) in enumerate(zip(rendered, live, strict=True))
                for m in missing(a, b, f"{where}[{i}]")]  # fmt: skip
    return [] if rendered == live else [f"{where}: rendered {rendered!r}, live {live!r}"]


def live_object(devcluster: Any, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    out = devcluster.kubectl("get", PLURALS[kind], name, "-n", namespace, "-o", "yaml", check=False)
    return yaml.safe_load(out.stdout) if out.returncode == 0 else None


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_render_prints_what_the_operator_creates(
    devcluster: Any, operator: Any, namespace: str, path: Path
) -> None:
    job = yaml.safe_load(path.read_text())
    job["metadata"]["namespace"] = namespace
    job["spec"]["suspend"] = True  # children, but no training
    result = CliRunner().invoke(main, ["render", "-", "-n", namespace], input=yaml.safe_dump(job))
    assert result.exit_code == 0, result.output
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert rendered and rendered[-1]["kind"] == "Job"

    # Server-side: client-side `kubectl apply` drops nulls (llava-vlm's max_length: null).
    devcluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(job))
    for child in rendered:
        kind, name = child["kind"], child["metadata"]["name"]
        live = wait_for(
            f"{kind} {name}", lambda k=kind, n=name: live_object(devcluster, namespace, k, n)
        )
        for ref in child["metadata"].get("ownerReferences", []):
            ref.pop("uid")  # the apiserver assigns the SFTJob's uid; render cannot know it
        assert missing(child, live, f"{kind}/{name}") == []
