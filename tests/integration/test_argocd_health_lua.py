"""hack/argocd/health.lua in the Lua interpreter Argo CD embeds, on objects captured from
devcluster runs: the cases of hack/argocd/health_test.yaml, Argo CD's own test format
(`tests: [{healthStatus: {status, message}, inputPath}]`), and kstatus on the same objects.

No devcluster is needed: the objects are committed (tests/integration/test_gitops_health.py
captures them); the Go tools are built from the module proxy on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_devcluster.gotools import run_tool

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parents[2] / "hack" / "argocd"
CASES = yaml.safe_load((HERE / "health_test.yaml").read_text())["tests"]
# What kstatus must say of each captured object (Flux reads the same).
KSTATUS = {
    "succeeded": "Current",
    "running": "InProgress",
    "restarting": "InProgress",
    "unschedulable": "InProgress",
    "unschedulable-stalled": "Failed",
    "backoff-limit-exceeded": "Failed",
    "invalid-spec": "Failed",
    "suspended": "InProgress",
    "queued": "InProgress",
}


def objects() -> list[dict[str, Any]]:
    return [yaml.safe_load((HERE / case["inputPath"]).read_text()) for case in CASES]


def test_every_captured_object_has_a_case() -> None:
    captured = {f"testdata/{p.name}" for p in (HERE / "testdata").glob("*.yaml")}
    assert captured == {case["inputPath"] for case in CASES}
    assert {Path(p).stem for p in captured} == set(KSTATUS)


def test_health_lua_matches_health_test_yaml() -> None:
    got = run_tool("argolua", objects(), str(HERE / "health.lua"))
    want = [case["healthStatus"] for case in CASES]
    assert [dict(g) for g in got] == want


def test_kstatus_on_the_captured_objects() -> None:
    got = run_tool("kstatus", objects())
    names = [Path(case["inputPath"]).stem for case in CASES]
    assert {n: g.get("status") for n, g in zip(names, got, strict=True)} == KSTATUS
